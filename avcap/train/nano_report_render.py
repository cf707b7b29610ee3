"""Text of the nano training report: TRAINING.md, the README's evidence block, report.html.

Everything here is a pure function of the report dict that :func:`avcap.train.nano_report.build_report`
returns (and that ships as ``avcap/assets/nano/training_report.json``), so the README block can
be regenerated from the shipped JSON and compared in a test: a hand edit of the README's numbers
fails the default suite.
"""

from __future__ import annotations

import html

from avcap.synth.recall import SOUND_GROUPS, VISUAL_GROUPS

README_START = "<!-- nano-evidence:start -->"
README_END = "<!-- nano-evidence:end -->"
README_NOTE = ("<!-- generated from avcap/assets/nano/training_report.json by `python -m avcap.train.nano_report "
               "--from avcap/assets/nano/training_report.json --readme README.md` (or at `--ship`); "
               "tests/test_readme_nano.py fails on a hand edit -->")


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def _points(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}"


def _minus(a: float | None, b: float | None) -> float | None:
    # Derived here, not read from the report's miss_vs_sft, so reports shipped before that field render too.
    return None if a is None or b is None else a - b


# MrDPO runs of a nano run folder: (label, report key, folder). The first is the main run (its
# eval_start is "after SFT"); the others start from the same SFT model with one setting changed.
VARIANTS = (("gDPO", "gdpo", "mrdpo"), ("DPO", "dpo", "mrdpo_dpo"), ("gDPO λ=1", "gdpo_lam1", "mrdpo_lam1"))


def _variants(report: dict) -> list[tuple[str, str]]:
    """(label, key) of the MrDPO runs in the report: gDPO, DPO and any other variant it holds."""
    return [(label, key) for label, key, _ in VARIANTS if report.get(key)]


def stage_table(report: dict) -> list[str]:
    """Held-out Total / Miss / Hall after SFT and per MrDPO round (gDPO, then DPO), audio on / off."""
    lines = ["| stage | Total | Miss | Hall | vs SFT | Miss vs SFT (points) | pairs |", "|---|---|---|---|---|---|---|"]
    sft_miss = report["gdpo"][0].get("miss") if report["gdpo"] else None
    for name, key in _variants(report):
        for row in report[key]:
            if row["round"] == 0:
                if key != "gdpo":
                    continue
                label = "after SFT"
            else:
                label = f"MrDPO round {row['round']} ({name})"
            later = bool(row["round"])
            lines.append(f"| {label} | {_pct(row.get('total'))} | {_pct(row.get('miss'))} | {_pct(row.get('hall'))} "
                         f"| {_pct(row.get('vs_sft'), signed=True) if later else ''} "
                         f"| {_points(_minus(row.get('miss'), sft_miss)) if later else ''} | {row.get('pairs') or ''} |")
    on, off = (report["audio"].get(k) or {} for k in ("on", "off"))
    if on or off:
        lines.append(f"| final model, audio on / off | {_pct(on.get('total'))} / {_pct(off.get('total'))} "
                     f"| {_pct(on.get('miss'))} / {_pct(off.get('miss'))} "
                     f"| {_pct(on.get('hall'))} / {_pct(off.get('hall'))} | | | |")
    return lines


RECALL_INTRO = ("Events told correctly per kind (symbolic judge against each script; recall = correct / events "
                "of that kind), final model on the held-out videos with their sound and with it replaced by "
                "silence. Muted is the chance line: what the picture and the text prior alone give (a bang "
                "comes with a visible collision). Attribute chance: a captioner told that a sound of that kind "
                "happens, and when, but not what it sounds like, is right this often by naming the most frequent "
                "pitch / count / word (avcap.synth.recall).")


def recall_table(report: dict) -> list[str]:
    """Recall per event kind with sound vs muted (``report["listen"]``); one line when not measured."""
    listen = report.get("listen")
    if not listen:
        return ["Per-kind recall with and without sound: not measured in this run "
                "(needs runs/nano/ablation/audio_{on,off}/captions.jsonl and the held-out rows)."]
    chance = listen.get("attribute_chance") or {}
    lines = [RECALL_INTRO, "", "| events | n | with sound | muted | attribute chance |", "|---|---|---|---|---|"]
    for group in (*VISUAL_GROUPS, "visual", *SOUND_GROUPS, "sound"):
        on, off = listen["with_sound"]["recall"][group], listen["muted"]["recall"][group]
        label = {"visual": "**all visual**", "sound": "**all sounds**"}.get(group, group)
        lines.append(f"| {label} | {on['n']} | {_pct(on['recall'])} | {_pct(off['recall'])} "
                     f"| {_pct(chance.get(group)) if group in chance else ''} |")
    return lines


def render_readme_block(report: dict) -> str:
    """The README's evidence block, markers included."""
    return "\n".join([README_START, README_NOTE, *stage_table(report), "", *recall_table(report), README_END])


def replace_readme_block(text: str, block: str) -> str:
    """``text`` with the part from README_START to README_END replaced by ``block``."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {README_START} ... {README_END} block")
    return text[:start] + block + text[end + len(README_END):]


def readme_block_of(text: str) -> str:
    """The evidence block currently in a README (markers included)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {README_START} ... {README_END} block")
    return text[start:end + len(README_END)]


def render_markdown(report: dict) -> str:
    lines = [
        "# Nano video-SALMONN 2: training report",
        "",
        f"Reproduce: `{report['reproduce']}` (2 CPU cores; every stage resumes). Held-out set: "
        f"{report['heldout_videos']} synthetic videos (seed 3) never trained on, judged by the symbolic "
        "judge against their exact event scripts; rates are pooled over events (Appendix F). "
        "Plots: report.html.",
        "",
        *stage_table(report),
    ]
    lines += ["", "Audio on vs off (the final gDPO model; off = the same videos with their sound replaced by silence), "
              "judged by `avcap eval --judge symbolic`, which sees the reference's event sentences in strict order "
              "rather than the script (simultaneous events), so its numbers differ slightly from the table above "
              "for the same captions:",
              "", "| audio | Total | Miss | Hall | repetition |", "|---|---|---|---|---|"]
    for key in ("on", "off"):
        rates = report["audio"].get(key) or {}
        lines.append(f"| {key} | {_pct(rates.get('total'))} | {_pct(rates.get('miss'))} | {_pct(rates.get('hall'))} "
                     f"| {_pct(rates.get('repetition'))} |")
    lines += ["", *recall_table(report)]
    lines += ["", "Input reliance (avcap.eval.reliance, 64 held-out videos): per-token NLL of the reference "
              "caption with the video's own input, and how much it rises without the sound, without the frames, "
              "or with another video's input (0 = the input is ignored):", "",
              "| model | NLL matched | + muted | + blank frames | + other video |", "|---|---|---|---|---|"]
    for name, rel in (report.get("reliance") or {}).items():
        if rel:
            lines.append(f"| {name} | {rel['nll']['matched']:.4f} | {rel['muted_minus_matched']:+.4f} "
                         f"| {rel['blank_minus_matched']:+.4f} | {rel['swapped_minus_matched']:+.4f} |")
    lines += ["", "Preference pairs per round (gDPO run): mean total error of the sampled captions, of the "
              "chosen and of the rejected ones, and the first-step DPO loss (ln 2 = 0.6931 when the round starts "
              "at its reference):", "",
              "| round | sampled | chosen | rejected | pairs | first-step loss | lr |", "|---|---|---|---|---|---|---|"]
    for row in report["gdpo"][1:]:
        loss = row.get("first_step_dpo_loss")
        lines.append(f"| {row['round']} | {_pct(row.get('sampled_total'))} | {_pct(row.get('chosen_total'))} "
                     f"| {_pct(row.get('rejected_total'))} | {row.get('pairs')} | "
                     f"{'–' if loss is None else f'{loss:.4f}'} | {row.get('learning_rate')} |")
    pin = report.get("pin")
    if pin:
        lines += ["", f"Pinned (tests/test_nano_pin.py): the shipped model on the first {len(pin['ids'])} held-out "
                  f"videos, greedy, CPU float32: Total {_pct(pin['total'])}, Miss {_pct(pin['miss'])}, "
                  f"Hall {_pct(pin['hall'])}, sound recall {_pct(pin.get('sound_recall'))}."]
    params = report.get("parameters") or {}
    seconds = report["stage_seconds"]
    lines += ["", f"Parameters: {params.get('total', '?'):,} in all ("
              + ", ".join(f"{k} {v:,}" for k, v in params.items() if k != "total") + ")." if params else "",
              "", "Wall time per stage (s): " + ", ".join(f"{k} {v}" for k, v in seconds.items())
              + f"; data to final model {report['training_seconds']} s.", ""]
    return "\n".join(lines)


def _md_table_html(lines: list[str]) -> str:
    """A markdown table (or plain paragraph lines) of this module as HTML."""
    out, rows = [], [ln for ln in lines if ln.startswith("|") and not ln.startswith("|---")]
    for ln in lines:
        if ln and not ln.startswith("|"):
            out.append(f"<p>{html.escape(ln)}</p>")
    if rows:
        cells = [[c.strip().strip("*") for c in r.strip("|").split("|")] for r in rows]
        out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells[0]) + "</tr>"
                   + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
                   + "</table>")
    return "\n".join(out)


def render_html(report: dict) -> str:
    """A single offline HTML file: the tables, the loss curves and the per-round / per-kind bars as inline SVG."""
    from avcap.eval.report_svg import svg_grouped_bars, svg_line_chart

    charts = []
    curves = report.get("curves") or {}
    for stage in ("align", "sft"):
        if curves.get(stage):
            charts.append(svg_line_chart({stage: curves[stage]}, title=f"{stage} training loss"))
    titles = {"gDPO": "gDPO loss per round (DPO + λ·CE)", "DPO": "plain DPO loss per round"}
    for name, _ in _variants(report):
        title = titles.get(name, f"{name} loss per round")
        rounds = {k: v for k, v in curves.items() if k.startswith(f"{name} round") and v}
        if rounds:
            charts.append(svg_line_chart(rounds, title=title, x_label="step in round"))
    for name, key in _variants(report):
        rows = [r for r in report[key] if r.get("total") is not None]
        if rows:
            charts.append(svg_grouped_bars(
                ["SFT" if r["round"] == 0 else f"round {r['round']}" for r in rows],
                {k.capitalize(): [r.get(k) for r in rows] for k in ("total", "miss", "hall")},
                title=f"held-out error per MrDPO round ({name})"))
    listen = report.get("listen")
    if listen:
        groups = [*VISUAL_GROUPS, *SOUND_GROUPS]
        charts.append(svg_grouped_bars(groups, {
            "with sound": [listen["with_sound"]["recall"][g]["recall"] for g in groups],
            "muted": [listen["muted"]["recall"][g]["recall"] for g in groups]},
            title="recall per event kind, final model", width=640))
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}.t{font-size:12px;font-weight:bold}.l{font-size:10px}"
             ".axis{stroke:#444}svg{margin:6px}")
    body = ["<h1>Nano video-SALMONN 2: training report</h1>",
            f"<p>Reproduce: <code>{html.escape(report['reproduce'])}</code>. Held-out set: "
            f"{report['heldout_videos']} synthetic videos (seed 3), symbolic judge, rates pooled over events.</p>",
            "<h2>Held-out error</h2>", _md_table_html(stage_table(report)),
            "<h2>Plots</h2>", "<div>" + "".join(charts) + "</div>" if charts else "<p>No training logs found.</p>",
            "<h2>Does it listen?</h2>", _md_table_html(recall_table(report))]
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>nano training report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
