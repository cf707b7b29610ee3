"""Inline SVG histograms, line charts, grouped bars and word diffs for HTML reports (no JavaScript, no network).

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


# Series colours (colour-blind safe, Okabe-Ito); series beyond the list reuse it.
SERIES_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def _legend(names: list[str], x: float, y: float) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        parts.append(f'<rect x="{x:.0f}" y="{y + 14 * i - 8:.0f}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14:.0f}" y="{y + 14 * i + 1:.0f}" class="l">{html.escape(name)}</text>')
    return parts


def svg_line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, x_label: str = "step",
                   y_label: str = "", width: int = 420, height: int = 200) -> str:
    """One polyline per named series of ``(x, y)`` points, on shared axes from 0 to the largest y
    (``y_label``, when given, is named in the title)."""
    if y_label:
        title = f"{title} ({y_label})"
    points = [p for values in series.values() for p in values]
    pad_l, pad_r, pad_b, pad_t = 40, 110, 30, 22
    plot_w, plot_h = width - pad_l - pad_r, height - pad_b - pad_t
    x_hi = max((x for x, _ in points), default=1.0) or 1.0
    y_hi = max((y for _, y in points), default=1.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="{pad_l + plot_w / 2:.0f}" y="14" text-anchor="middle" class="t">{html.escape(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" class="axis"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" class="axis"/>',
             f'<text x="{pad_l + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" class="l">'
             f'{html.escape(x_label)} (0-{x_hi:g})</text>']
    for tick in _ticks(0.0, y_hi):
        y = pad_t + plot_h - plot_h * tick / y_hi
        parts.append(f'<text x="{pad_l - 4}" y="{y + 3:.1f}" text-anchor="end" class="l">{tick:.3g}</text>')
    for i, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        coords = " ".join(f"{pad_l + plot_w * x / x_hi:.1f},{pad_t + plot_h - plot_h * y / y_hi:.1f}" for x, y in values)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5">'
                     f"<title>{html.escape(name)}</title></polyline>")
    parts += _legend(list(series), pad_l + plot_w + 8, pad_t + 8)
    parts.append("</svg>")
    return "".join(parts)


def svg_grouped_bars(groups: list[str], series: dict[str, list[float | None]], *, title: str, percent: bool = True,
                     width: int = 420, height: int = 200) -> str:
    """Bars per group, one per named series (``series[name][i]`` belongs to ``groups[i]``; None: no bar)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    pad_l, pad_r, pad_b, pad_t = 40, 110, 30, 22
    plot_w, plot_h = width - pad_l - pad_r, height - pad_b - pad_t
    top = max(values, default=1.0) or 1.0
    scale = 100 if percent else 1
    slot = plot_w / max(len(groups), 1)
    bar_w = (slot - 6) / max(len(series), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="{pad_l + plot_w / 2:.0f}" y="14" text-anchor="middle" class="t">{html.escape(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" class="axis"/>']
    for tick in _ticks(0.0, top):
        y = pad_t + plot_h - plot_h * tick / top
        parts.append(f'<text x="{pad_l - 4}" y="{y + 3:.1f}" text-anchor="end" class="l">{tick * scale:.3g}</text>')
    for g, group in enumerate(groups):
        x0 = pad_l + g * slot + 3
        parts.append(f'<text x="{x0 + (slot - 6) / 2:.1f}" y="{pad_t + plot_h + 12}" text-anchor="middle" '
                     f'class="l">{html.escape(group)}</text>')
        for i, (name, vs) in enumerate(series.items()):
            v = vs[g] if g < len(vs) else None
            if v is None:
                continue
            h = plot_h * v / top
            shown = f"{v * scale:.1f}{'%' if percent else ''}"
            parts.append(f'<rect x="{x0 + i * bar_w:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar_w - 1:.1f}" '
                         f'height="{h:.1f}" fill="{SERIES_COLOURS[i % len(SERIES_COLOURS)]}">'
                         f"<title>{html.escape(group)} {html.escape(name)}: {shown}</title></rect>")
    parts += _legend(list(series), pad_l + plot_w + 8, pad_t + 8)
    parts.append("</svg>")
    return "".join(parts)
