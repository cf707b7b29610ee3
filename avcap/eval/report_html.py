"""report.html: one self-contained page rendered from report.json (a pure function of it).

Aggregate table (with differences against the first caption file when comparing), inline
SVG histograms of per-item scores, failures with causes, and a per-video drill-down showing
each caption beside its missed / incorrect / hallucinated events and the other metrics.
"""

from __future__ import annotations

from markupsafe import Markup

from avcap.eval.report_svg import svg_histogram, word_diff

# (metric, key in the aggregate, column label, kind): "pct" shows value * 100, "num" as is.
COLUMNS = {
    "salmonn2": [("miss", "Miss %", "pct"), ("hall", "Hall %", "pct"), ("total", "Total %", "pct")],
    "autodq": [("precision", "AutoDQ P", "pct"), ("recall", "AutoDQ R", "pct"), ("f1", "AutoDQ F1", "pct")],
    "checklist": [("score", "Checklist", "pct")],
    "dialogue": [("f1", "Dialogue F1", "pct")],
    "repetition": [("repetition_rate", "Rep. rate", "pct"), ("repcol", "RepCol", "pct")],
    "qa": [("accuracy", "QA acc.", "pct")],
}
LOWER_IS_BETTER = {"miss", "hall", "total", "repetition_rate", "repcol"}
HISTOGRAMS = {  # metric -> (distribution key, title, upper edge, overflow bin)
    "salmonn2": [("miss", "Miss % per item", 1.0, False), ("hall", "Hall % per item", 1.0, True),
                 ("total", "Total % per item", 1.0, True)],
    "autodq": [("precision", "AutoDQ precision per item", 1.0, False), ("recall", "AutoDQ recall per item", 1.0, False)],
    "checklist": [("score", "Checklist score per item", 1.0, False)],
    "dialogue": [("f1", "Dialogue F1 per item", 1.0, False)],
    "repetition": [("repetition_rate", "Repetition rate per item", 1.0, False)],
}

_TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>avcap report: {{ p.data }}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d1d1f;max-width:1500px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f6}
.meta{color:#555}.d{font-size:11px;margin-left:4px}.better{color:#16794c}.worse{color:#b3261e}
.hists{display:flex;flex-wrap:wrap;gap:12px}.hist .bar{fill:#4a78c2}.hist .axis{stroke:#888}
.hist .t{font-size:12px;font-weight:600}.hist .l{font-size:10px;fill:#555}
details.item{border:1px solid #ddd;border-radius:6px;margin:6px 0;padding:4px 10px}
details.item>summary{cursor:pointer}.cols{display:grid;grid-template-columns:repeat({{ sets|length }},minmax(0,1fr));gap:14px}
.caption{white-space:pre-wrap;background:#fafafa;border:1px solid #eee;padding:6px;border-radius:4px}
ins{background:#d8f5dc;text-decoration:none}del{background:#fbdcdc}
li.missed{color:#b3261e}li.incorrect{color:#a15c00}li.ok{color:#16794c}
.tag{font-size:11px;border-radius:3px;padding:0 4px;margin-right:4px;border:1px solid currentColor}
.fail{color:#b3261e}.ref{color:#444;font-size:13px}.small{font-size:12px;color:#555}
</style></head><body>
<h1>avcap evaluation report</h1>
<p class="meta">Data <code>{{ p.data }}</code> ({{ p.format }}) · metrics {{ p.metrics|join(", ") }}
{% if p.judge %}· judge <b>{{ p.judge.backend }}</b> / <code>{{ p.judge.model }}</code>, {{ p.judge_runs }} run(s) at temperature {{ p.judge.temperature }}{% endif %}
· {{ r.tokens.judgments }} judgments, {{ r.tokens.prompt }} prompt + {{ r.tokens.completion }} completion tokens
{% if r.tokens.cost_usd is not none %}· cost ${{ "%.4f"|format(r.tokens.cost_usd) }}{% endif %}</p>
{% if r.data_errors %}<p class="fail">{{ r.data_errors|length }} malformed data rows skipped: {{ r.data_errors[:5]|join("; ") }}</p>{% endif %}

<h2 id="aggregate">Aggregate</h2>
<table class="agg"><thead><tr><th>captions</th>{% for c in columns %}<th>{{ c.label }}</th>{% endfor %}</tr></thead><tbody>
{% for row in agg_rows %}<tr><td><b>{{ row.name }}</b>{% if row.model %} <span class="small">{{ row.model }}</span>{% endif %}</td>
{% for cell in row.cells %}<td>{{ cell.text }}{% if cell.delta %}<span class="d {{ cell.cls }}">{{ cell.delta }}</span>{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{% if "salmonn2" in p.metrics %}<p class="small">Miss/Hall/Total: the median of {{ p.judge_runs }} judge run(s) by Total (video-SALMONN 2 protocol);
{% for s in r.caption_sets %}{% set m = s.metrics.salmonn2 %}{% if m.n_scored %}{{ s.name }}: run {{ m.median_run }}, Total mean {{ "%.1f"|format(m.mean.total * 100) }} ± {{ "%.1f"|format(m.std.total * 100) }}. {% endif %}{% endfor %}</p>{% endif %}
<table><thead><tr><th>captions</th><th>metric</th><th>items</th><th>scored</th><th>judge failures</th><th>failed captions</th></tr></thead><tbody>
{% for s in r.caption_sets %}{% for name, m in s.metrics.items() %}<tr><td>{{ s.name }}</td><td>{{ name }}</td><td>{{ m.n_items }}</td><td>{{ m.n_scored }}</td>
<td{% if m.n_failed %} class="fail"{% endif %}>{{ m.n_failed }}</td><td{% if m.n_caption_failed %} class="fail"{% endif %}>{{ m.n_caption_failed }}</td></tr>{% endfor %}{% endfor %}
</tbody></table>

<h2 id="audit">Modality audit</h2>
{% if p.audit_filter %}<p>Items filtered by <code>--audit-filter {{ p.audit_filter }}</code>: {{ p.audit_filtered_out }} left out.</p>{% endif %}
<table><thead><tr><th>captions</th><th>audited rows</th><th>no audio fed</th><th>truncated</th><th>frames capped</th><th>audio cut</th><th>resampled</th><th>silence fed</th><th>unaudited</th></tr></thead><tbody>
{% for s in r.caption_sets %}{% set a = s.audit %}<tr><td>{{ s.name }}</td><td>{{ a.rows }}</td><td{% if a.no_audio_fed %} class="fail"{% endif %}>{{ a.no_audio_fed }}</td>
<td{% if a.truncated %} class="fail"{% endif %}>{{ a.truncated }}</td><td>{{ a.frames_capped }}</td><td>{{ a.audio_cut }}</td><td>{{ a.resampled }}</td><td>{{ a.silence_fed }}</td><td>{{ a.unaudited }}</td></tr>{% endfor %}
</tbody></table>

{% if hist_groups %}<h2 id="histograms">Per-item distributions</h2>
{% for g in hist_groups %}<h3>{{ g.title }}</h3><div class="hists">{% for svg in g.svgs %}{{ svg }}{% endfor %}</div>{% endfor %}{% endif %}

<h2 id="failures">Failures</h2>
{% set nfail = namespace(n=0) %}
{% for s in r.caption_sets %}{% for f in s.failed_captions %}{% set nfail.n = nfail.n + 1 %}<div class="fail">{{ s.name }} · <a href="#item-{{ f.id }}">{{ f.id }}</a> · failed caption: {{ f.cause }}</div>{% endfor %}
{% for f in s.judge_failures %}{% set nfail.n = nfail.n + 1 %}<div class="fail">{{ s.name }} · <a href="#item-{{ f.id }}">{{ f.id }}</a> · {{ f.metric }}: {{ f.cause }}</div>{% endfor %}{% endfor %}
{% if nfail.n == 0 %}<p>None: every item was judged.</p>{% endif %}

<h2 id="items">Per-video drill-down</h2>
{% for it in items %}<details class="item" id="item-{{ it.id }}"><summary><code>{{ it.id }}</code> {{ it.summary }}</summary>
{% if it.reference %}<details><summary class="small">reference caption</summary><p class="ref">{{ it.reference }}</p></details>{% endif %}
{% if it.question %}<p><b>Q:</b> {{ it.question }}</p>{% endif %}
<div class="cols">{% for col in it.cols %}<div><h4>{{ col.name }}</h4>
{% if col.caption_error %}<p class="fail">failed caption: {{ col.caption_error }}</p>{% else %}<div class="caption">{{ col.caption_html }}</div>{% endif %}
{% if col.audit %}<p class="small{% if col.audit_flags %} fail{% endif %}">fed: {{ col.audit }}{% if col.audit_flags %} — {{ col.audit_flags }}{% endif %}</p>{% endif %}
{% for m in col.metrics %}<h5>{{ m.name }}{% if m.headline %} — {{ m.headline }}{% endif %}</h5>
{% if m.error %}<p class="fail">{{ m.error }}</p>{% endif %}{{ m.body }}{% endfor %}
</div>{% endfor %}</div></details>{% endfor %}
</body></html>
"""


def _fmt(value, kind: str) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}" if kind == "pct" else f"{value:.3g}"


def _agg_rows(report: dict) -> tuple[list[dict], list[dict]]:
    metrics = report["params"]["metrics"]
    columns = [{"metric": m, "key": k, "label": label, "kind": kind} for m in metrics for k, label, kind in COLUMNS[m]]
    rows = []
    base = report["caption_sets"][0] if report["caption_sets"] else None
    for s in report["caption_sets"]:
        cells = []
        for c in columns:
            value = s["metrics"][c["metric"]].get(c["key"])
            cell = {"text": _fmt(value, c["kind"]), "delta": "", "cls": ""}
            ref = base["metrics"][c["metric"]].get(c["key"]) if base is not None else None
            if s is not base and value is not None and ref is not None:
                diff = (value - ref) * (100 if c["kind"] == "pct" else 1)
                cell["delta"] = f"{diff:+.1f}"
                if abs(diff) > 1e-9:
                    good = (diff < 0) == (c["key"] in LOWER_IS_BETTER)
                    cell["cls"] = "better" if good else "worse"
            cells.append(cell)
        rows.append({"name": s["name"], "model": s.get("model"), "cells": cells})
    return columns, rows


def _hist_groups(report: dict) -> list[dict]:
    groups = []
    for metric in report["params"]["metrics"]:
        for key, title, hi, overflow in HISTOGRAMS.get(metric, []):
            svgs = []
            for s in report["caption_sets"]:
                values = s["metrics"][metric].get("distributions", {}).get(key)
                if values:
                    svgs.append(Markup(svg_histogram(values, title=f"{s['name']}", hi=hi, overflow=overflow)))
            if svgs:
                groups.append({"title": title, "svgs": svgs})
    return groups


def _li(cls: str, tag: str, text: str) -> str:
    return f'<li class="{cls}"><span class="tag">{Markup.escape(tag)}</span>{Markup.escape(text)}</li>'


def _metric_body(metric: str, rec: dict, median_run: int | None) -> tuple[str, str]:
    """(headline, HTML body) of one metric's record for the drill-down.

    For video-SALMONN 2 the events are marked as judged in the benchmark's median run, the
    run whose numbers the aggregate table reports.
    """
    e = Markup.escape
    if rec.get("status") == "caption_failed":
        return "", ""
    if metric == "salmonn2" and rec.get("events"):
        runs = rec.get("runs") or []
        good = [k for k, run in enumerate(runs) if "error" not in run]
        if not good:
            return "", ""
        totals = [runs[k]["total"] for k in good]
        k = median_run if median_run in good else good[0]
        run = runs[k]
        missed, wrong = set(run["missing"]), set(run["incorrect"])
        lis = [_li("missed", "missed", ev) if i in missed else _li("incorrect", "incorrect", ev) if i in wrong
               else _li("ok", "ok", ev) for i, ev in enumerate(rec["events"])]
        hall = "".join(f"<li>{e(h)}</li>" for h in run["hallucinated"]) or "<li>none</li>"
        notes = "".join(f'<li class="small">{e(n)}</li>' for n in run.get("notes", []))
        head = (f"Miss {run['miss'] * 100:.0f}% · Hall {run['hall'] * 100:.0f}% · Total {run['total'] * 100:.0f}%"
                + (f" (run {k}; totals {', '.join(f'{t * 100:.0f}' for t in totals)})" if len(runs) > 1 else ""))
        body = (f'<ol class="events">{"".join(lis)}</ol><p class="small">events from {e(rec["events_source"])}; '
                f"hallucinated:</p><ul>{hall}</ul>" + (f"<ul>{notes}</ul>" if notes else ""))
        return head, body
    if rec.get("status") != "ok":
        return "", ""
    if metric == "autodq":
        ref = "".join(_li("ok" if lab == "entailment" else "missed", lab, ev) for ev, lab in zip(rec["ref_events"], rec["ref_labels"]))
        pred = "".join(_li("ok" if lab == "entailment" else "missed", lab, ev) for ev, lab in zip(rec["pred_events"], rec["pred_labels"]))
        body = f'<p class="small">reference events vs caption (recall)</p><ol>{ref}</ol><p class="small">caption events vs reference (precision)</p><ol>{pred}</ol>'
        return f"P {rec['precision'] * 100:.0f}% · R {rec['recall'] * 100:.0f}%", body
    if metric == "checklist":
        hit = set(rec["correct"])
        lis = "".join(_li("ok" if i in hit else "missed", dim, text) for i, (dim, text) in enumerate(rec["keypoints"]))
        return f"score {rec['score'] * 100:.0f}%", f"<ol>{lis}</ol>"
    if metric == "dialogue":
        rows = "".join(
            f"<tr><td>{e(rec['ref_dialogue'][j][0])}: {e(rec['ref_dialogue'][j][1])}</td>"
            f"<td>{e(rec['pred_dialogue'][i][0])}: {e(rec['pred_dialogue'][i][1])}</td><td>{sim:.2f}</td><td>{'yes' if same else 'no'}</td></tr>"
            for j, i, sim, same in rec["pairs"])
        body = (f'<p class="small">{len(rec["ref_dialogue"])} reference lines, {len(rec["pred_dialogue"])} caption lines, '
                f"{len(rec['pairs'])} matched</p>"
                + (f"<table><tr><th>reference</th><th>caption</th><th>sim</th><th>same speaker</th></tr>{rows}</table>" if rows else ""))
        return f"F1 {rec['f1'] * 100:.0f}%", body
    if metric == "repetition":
        return f"rep. {rec['repetition_rate'] * 100:.1f}%{' · COLLAPSED' if rec['collapse'] else ''}", ""
    if metric == "qa":
        opts = "".join(f"<li>{e(letter)}. {e(text)}</li>" for letter, text in rec["options"])
        verdict = "correct" if rec["correct"] else "wrong"
        return f"answered {rec['predicted'] or 'N/A'} (gold {rec['gold']}): {verdict}", f"<ul>{opts}</ul>"
    return "", ""


def _audit_line(audit: dict | None) -> tuple[str, str]:
    """What the model received, in words, and the audit's warning flags (empty when none)."""
    if not audit:
        return "", ""
    text = (f"{audit.get('audio_seconds_fed', 0):g} s audio, {audit.get('video_seconds_fed', 0):g} s video, "
            f"{audit.get('frames', 0)} frames, {audit.get('audio_tokens')} audio / {audit.get('visual_tokens')} "
            f"visual tokens ({audit.get('policy')})")
    flags = [name.replace("_", " ") for name in ("no_audio_fed", "frames_capped", "audio_cut") if audit.get(name)]
    return text, ", ".join(flags)


def _items(report: dict) -> list[dict]:
    names = [s["name"] for s in report["caption_sets"]]
    medians = {s["name"]: s["metrics"].get("salmonn2", {}).get("median_run") for s in report["caption_sets"]}
    out = []
    for item in report["items"]:
        base = (item["captions"].get(names[0]) or {}).get("caption") if names else None
        cols, summary = [], []
        for idx, name in enumerate(names):
            cap = item["captions"].get(name) or {}
            text = cap.get("caption") or ""
            caption_html = (Markup(word_diff(base, text)) if idx > 0 and base is not None and cap.get("error") is None
                            else Markup.escape(text))
            metrics = []
            for metric, rec in item["results"][name].items():
                head, body = _metric_body(metric, rec, medians[name])
                err = rec.get("error") if rec.get("status") == "failed" else None
                metrics.append({"name": metric, "headline": head, "error": err, "body": Markup(body)})
                if metric == "salmonn2" and head:
                    summary.append(f"{name}: {head.split(' (')[0]}")
            error = cap.get("error") if cap else "no caption for this item"
            audit, flags = _audit_line(cap.get("audit"))
            cols.append({"name": name, "caption_error": error, "caption_html": caption_html, "metrics": metrics,
                         "audit": audit, "audit_flags": flags})
        out.append({"id": item["id"], "reference": item.get("reference"), "question": item.get("question"),
                    "cols": cols, "summary": " | ".join(summary)})
    return out


def render_html(report: dict) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    columns, rows = _agg_rows(report)
    return env.from_string(_TEMPLATE).render(
        p=report["params"], r=report, sets=report["caption_sets"], columns=columns, agg_rows=rows,
        hist_groups=_hist_groups(report), items=_items(report),
    )
