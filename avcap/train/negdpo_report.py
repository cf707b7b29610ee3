"""The nano evidence for Tarsier2's DPO: ``python -m avcap.train.negdpo_report RUN``.

Reads what ``scripts/negdpo_nano.sh`` wrote under ``RUN/negdpo`` (the pairs statistics and the
three settings' reports) and, when present, MrDPO's runs under ``RUN/mrdpo`` (its held-out
captions are scored with the same exact AutoDQ here, so every row of the table is measured the
same way), and writes ``RUN/negdpo/report.json`` and ``RUN/negdpo/REPORT.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SETTINGS = (("full", "negdpo (full)"), ("no_ns", "negdpo w/o NS"), ("no_pf", "negdpo w/o PF"))


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def autodq_of_captions(captions_path: Path, heldout: list) -> dict | None:
    """Exact AutoDQ of a held-out captions file (``{"id", "caption"}`` rows), as negdpo's evaluation scores it."""
    from avcap.data import iter_jsonl
    from avcap.data.grounding import strip_frame_tags
    from avcap.metrics.autodq import autodq_aggregate
    from avcap.train.autodq_scoring import SymbolicAutoDQ
    from avcap.train.scoring import ScoreFailure

    if not captions_path.is_file():
        return None
    captions = {rec["id"]: rec.get("caption") for _, rec in iter_jsonl(captions_path)}
    rows = [row for row in heldout if isinstance(captions.get(row.id), str)]
    scores = [s for s in SymbolicAutoDQ()(rows, [strip_frame_tags(captions[r.id]) for r in rows])
              if not isinstance(s, ScoreFailure)]
    if not scores:
        return None
    overall = autodq_aggregate([("all", p, r) for p, r in scores])["overall"]
    return {k: overall[k] for k in ("precision", "recall", "f1", "n_items")}


def _line(stage: str, ev: dict | None, pairs=None, steps=None) -> dict:
    ev = ev or {}
    dq = ev.get("autodq") or {}
    return {"stage": stage, "total": ev.get("total"), "miss": ev.get("miss"), "hall": ev.get("hall"),
            "precision": dq.get("precision"), "recall": dq.get("recall"), "f1": dq.get("f1"),
            "pairs": pairs, "steps": steps}


def collect(run: Path) -> dict:
    from avcap.train.data import load_rows

    out = run / "negdpo"
    heldout_path = run / "data" / "heldout" / "train.json"
    heldout = load_rows(heldout_path, what="held-out") if heldout_path.is_file() else []
    lines = []
    reports = {name: _load(out / name / "report.json") for name, _ in SETTINGS}
    start = next((r["eval_start"] for r in reports.values() if r and "eval_start" in r), None)
    if start:
        lines.append(_line(f"start ({start.get('model')})", start))
    mrdpo = run / "mrdpo"
    for t in (1, 2, 3, 4, 5, 6):
        rep = _load(mrdpo / f"round_{t}" / "report.json")
        if rep is None:
            break
        ev = dict(rep.get("eval") or {})
        ev["autodq"] = autodq_of_captions(mrdpo / f"round_{t}" / "eval_captions.jsonl", heldout)
        lines.append(_line(f"MrDPO round {t} (gDPO)", ev, rep["pairs"]["pairs"], rep.get("train", {}).get("global_step")))
    for name, label in SETTINGS:
        rep = reports[name]
        if rep:
            lines.append(_line(label, rep.get("eval_final"), rep["pairs"]["pairs"], rep["train"].get("global_step")))
    stats = _load(out / "pairs.stats.json") or {}
    return {"table": lines, "pair_stats": stats,
            "selection": {name: rep["pairs"] for name, rep in reports.items() if rep}}


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def markdown(report: dict) -> str:
    out = ["# Tarsier2 DPO on the nano world", "",
           "Held-out videos captioned greedily (128 new tokens) and judged exactly by the symbolic judge: "
           "Miss/Hall/Total pooled over events (video-SALMONN 2 App. F), AutoDQ P/R/F1 (Tarsier2: "
           "an event counts when told correctly and in order).", "",
           "| stage | Total | Miss | Hall | AutoDQ P | AutoDQ R | AutoDQ F1 | pairs | steps |",
           "|---|---|---|---|---|---|---|---|---|"]
    for line in report["table"]:
        out.append(f"| {line['stage']} | {_pct(line['total'])} | {_pct(line['miss'])} | {_pct(line['hall'])} | "
                   f"{_pct(line['precision'])} | {_pct(line['recall'])} | {_pct(line['f1'])} | "
                   f"{line['pairs'] if line['pairs'] is not None else ''} | "
                   f"{line['steps'] if line['steps'] is not None else ''} |")
    stats = report["pair_stats"]
    if stats.get("negative"):
        out += ["", f"Pair yield (δ = {stats['delta']}, {stats['scored']} videos; the filter of eq. 1 on the "
                "candidates y vs ỹ, and y vs y' for w/o NS):", "",
                "| pairs | candidates | kept | yield | mean ΔP | mean ΔR |", "|---|---|---|---|---|---|"]
        rows = [(kind, s) for kind, s in stats["negative"]["per_kind"].items()]
        rows.append(("all corruptions", stats["negative"]))
        if stats.get("second"):
            rows.append(("second clean sample", stats["second"]))
        for label, s in rows:
            dp = "" if s["mean_delta_p"] is None else f"{s['mean_delta_p']:+.3f}"
            dr = "" if s["mean_delta_r"] is None else f"{s['mean_delta_r']:+.3f}"
            out.append(f"| {label} | {s['candidates']} | {s['kept']} | {100 * s['yield']:.1f}% | {dp} | {dr} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    from avcap.data import atomic_write_json, atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the nano run folder (runs/nano)")
    args = parser.parse_args(argv)
    report = collect(args.run)
    atomic_write_json(args.run / "negdpo" / "report.json", report)
    text = markdown(report)
    atomic_write_text(args.run / "negdpo" / "REPORT.md", text)
    print(text)


if __name__ == "__main__":
    main()
