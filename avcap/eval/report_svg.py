"""Inline SVG histograms and word diffs for the HTML report (no JavaScript, no network).

Hand-written because the report must open offline as a single file: plotting libraries
either need JavaScript from a CDN or produce images through a heavy dependency.
"""

from __future__ import annotations

import difflib
import html


def bin_counts(values: list[float], lo: float, hi: float, bins: int, overflow: bool) -> list[int]:
    """Counts per equal-width bin over [lo, hi]; the last bin includes ``hi``; with ``overflow``
    one more bin holds values above ``hi`` (Hall% can exceed 100 %)."""
    if bins < 1 or hi <= lo:
        raise ValueError("need bins >= 1 and hi > lo")
    counts = [0] * (bins + (1 if overflow else 0))
    width = (hi - lo) / bins
    for v in values:
        if v > hi:
            if overflow:
                counts[-1] += 1
            else:
                counts[bins - 1] += 1
            continue
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    return counts


def svg_histogram(
    values: list[float], *, title: str, lo: float = 0.0, hi: float = 1.0, bins: int = 10,
    overflow: bool = False, percent: bool = True, width: int = 300, height: int = 150,
) -> str:
    counts = bin_counts(values, lo, hi, bins, overflow)
    n = len(counts)
    pad_l, pad_b, pad_t = 28, 30, 22
    plot_w, plot_h = width - pad_l - 6, height - pad_b - pad_t
    top = max(counts) or 1
    bar_w = plot_w / n
    scale = 100 if percent else 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hist" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" class="t">{html.escape(title)} (n={len(values)})</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 6}" y2="{pad_t + plot_h}" class="axis"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" text-anchor="end" class="l">{top}</text>',
    ]
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x = pad_l + i * bar_w
        label = f">{hi * scale:g}" if overflow and i == n - 1 else f"{(lo + i * (hi - lo) / bins) * scale:g}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{label}: {c}</title></rect>"
        )
        if i % 2 == 0 or n <= 6:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{pad_t + plot_h + 12}" text-anchor="middle" class="l">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def word_diff(base: str, other: str) -> str:
    """``other`` as HTML with words missing from ``base`` in <ins> and dropped words in <del>."""
    a, b = base.split(), other.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape(" ".join(b[j1:j2])))
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(' '.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(' '.join(b[j1:j2]))}</ins>")
    return " ".join(out)


def svg_line_chart(
    series: dict[str, list[tuple[float, float]]], *, title: str, x_label: str = "step", y_label: str = "",
    width: int = 480, height: int = 240,
) -> str:
    """Lines of (x, y) points, one per named series, with a legend; the y range spans every point."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        raise ValueError("no points to plot")
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi = y_lo + 1
    pad_l, pad_r, pad_b, pad_t = 44, 10, 32, 22
    plot_w, plot_h = width - pad_l - pad_r, height - pad_b - pad_t

    def xy(x: float, y: float) -> str:
        return f"{pad_l + plot_w * (x - x_lo) / (x_hi - x_lo):.1f},{pad_t + plot_h * (1 - (y - y_lo) / (y_hi - y_lo)):.1f}"

    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="line" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" class="t">{html.escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" class="axis" stroke="#888"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" class="axis" stroke="#888"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 8}" text-anchor="end" class="l">{y_hi:.3g}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" text-anchor="end" class="l">{y_lo:.3g}</text>',
        f'<text x="{pad_l}" y="{height - 16}" text-anchor="middle" class="l">{x_lo:g}</text>',
        f'<text x="{width - pad_r}" y="{height - 16}" text-anchor="end" class="l">{x_hi:g}</text>',
        f'<text x="{pad_l + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" class="l">{html.escape(x_label)}</text>',
    ]
    if y_label:
        parts.append(f'<text x="10" y="{pad_t + plot_h / 2:.0f}" class="l" transform="rotate(-90 10 {pad_t + plot_h / 2:.0f})" '
                     f'text-anchor="middle">{html.escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        path = " ".join(xy(x, y) for x, y in sorted(pts))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"><title>{html.escape(name)}</title></polyline>')
        parts.append(f'<text x="{pad_l + 6}" y="{pad_t + 12 + 12 * i}" class="l" fill="{colour}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
