"""The training report of a nano captioner run (``scripts/train_nano.sh``), and its shipping.

``python -m avcap.train.nano_report RUN [--ship DIR]`` reads the run folder the script wrote::

    RUN/stage_seconds.tsv          wall time of each stage
    RUN/init/avcap.json            parameter counts
    RUN/sft/report.json            SFT training metrics
    RUN/mrdpo/                     gDPO MrDPO: eval_start.json (after SFT), round_<t>/report.json
    RUN/mrdpo_dpo/                 the same rounds with plain DPO
    RUN/ablation/audio_{on,off}/   the final model on the held-out set with and without sound

and writes ``RUN/report.json`` and ``RUN/TRAINING.md`` (held-out Total / Miss / Hall after SFT
and after each round, gDPO vs DPO, audio on vs off, pairs per round, stage timings). ``--ship``
copies the final model with both reports into ``DIR`` (``avcap/assets/nano`` is what
``builtin:nano`` loads).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from avcap.data import atomic_write_json, atomic_write_text

REPRODUCE = "bash scripts/train_nano.sh"


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _rates(ev: dict) -> dict | None:
    keys = ("total", "miss", "hall")
    return {k: ev[k] for k in keys} if all(k in ev for k in keys) else None


def mrdpo_rows(mrdpo_dir: Path) -> list[dict]:
    """One row per stage of an MrDPO run: after SFT (round 0), then after each round."""
    summary = _json(mrdpo_dir / "report.json")
    rows = [{"round": 0, **(_rates(_json(mrdpo_dir / "eval_start.json")) or {})}]
    for t in range(1, summary.get("rounds", 0) + 1):
        report = _json(mrdpo_dir / f"round_{t}" / "report.json")
        pairs = report.get("pairs", {})
        rows.append({"round": t, **(_rates(report.get("eval", {})) or {}), "pairs": pairs.get("pairs"),
                     "sampled_total": pairs.get("mean_total_error"),
                     "chosen_total": pairs.get("mean_chosen_total"), "rejected_total": pairs.get("mean_rejected_total"),
                     "first_step_dpo_loss": report.get("train", {}).get("first_step", {}).get("dpo_loss"),
                     "learning_rate": report.get("learning_rate"), "seconds": report.get("seconds")})
    return rows


def relative_change(before: float | None, after: float | None) -> float | None:
    """``(after - before) / before``: -0.15 is "15 % lower"."""
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before


def ablation_rates(report_dir: Path) -> dict | None:
    """Pooled Miss / Hall / Total (and repetition) of an ``avcap eval`` report folder."""
    report = _json(report_dir / "report.json")
    if not report:
        return None
    metrics = report["caption_sets"][0]["metrics"]
    out = _rates(metrics.get("salmonn2", {})) or {}
    if metrics.get("repetition", {}).get("n_scored"):
        out["repetition"] = metrics["repetition"]["repetition_rate"]
    return out or None


def stage_seconds(run: Path) -> dict[str, int]:
    seconds: dict[str, int] = {}
    path = run / "stage_seconds.tsv"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                name, value = line.split("\t")
                seconds[name] = seconds.get(name, 0) + int(value)
    return seconds


def build_report(run: Path) -> dict:
    gdpo, dpo = mrdpo_rows(run / "mrdpo"), mrdpo_rows(run / "mrdpo_dpo")
    sft_total = gdpo[0].get("total")
    for rows in (gdpo, dpo):
        for row in rows:
            row["vs_sft"] = relative_change(sft_total, row.get("total"))
    seconds = stage_seconds(run)
    training = [k for k in ("data", "build", "align", "sft", "mrdpo") if k in seconds]
    heldout = _json(run / "mrdpo" / "eval_start.json").get("rows")
    return {
        "reproduce": REPRODUCE,
        "heldout_videos": heldout,
        "parameters": _json(run / "init" / "avcap.json").get("parameters"),
        "sft": {k: _json(run / "sft" / "report.json").get("train", {}).get(k)
                for k in ("global_step", "train_loss", "last")},
        "gdpo": gdpo,
        "dpo": dpo,
        "audio": {"on": ablation_rates(run / "ablation" / "audio_on"),
                  "off": ablation_rates(run / "ablation" / "audio_off")},
        "reliance": {name: _json(run / "reliance" / f"{name}.json") or None for name in ("sft", "final")},
        "stage_seconds": seconds,
        "training_seconds": sum(seconds[k] for k in training),
        "final_model": _json(run / "mrdpo" / "report.json").get("final_model"),
    }


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


def render_markdown(report: dict) -> str:
    lines = [
        "# Nano video-SALMONN 2: training report",
        "",
        f"Reproduce: `{report['reproduce']}` (2 CPU cores; every stage resumes). Held-out set: "
        f"{report['heldout_videos']} synthetic videos (seed 3) never trained on, judged by the symbolic "
        "judge against their exact event scripts; rates are pooled over events (Appendix F).",
        "",
        "| stage | Total | Miss | Hall | vs SFT | pairs |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in (("gDPO", report["gdpo"]), ("DPO", report["dpo"])):
        for row in rows:
            if row["round"] == 0:
                if name == "DPO":
                    continue
                label = "after SFT"
            else:
                label = f"MrDPO round {row['round']} ({name})"
            lines.append(f"| {label} | {_pct(row.get('total'))} | {_pct(row.get('miss'))} | {_pct(row.get('hall'))} "
                         f"| {_pct(row.get('vs_sft'), signed=True) if row['round'] else ''} | {row.get('pairs') or ''} |")
    audio = report["audio"]
    lines += ["", "Audio on vs off (the final gDPO model; off = the same videos with their sound replaced by silence), "
              "judged by `avcap eval --judge symbolic`, which sees the reference's event sentences in strict order "
              "rather than the script (simultaneous events), so its numbers differ slightly from the table above "
              "for the same captions:",
              "", "| audio | Total | Miss | Hall | repetition |", "|---|---|---|---|---|"]
    for key in ("on", "off"):
        rates = audio.get(key) or {}
        lines.append(f"| {key} | {_pct(rates.get('total'))} | {_pct(rates.get('miss'))} | {_pct(rates.get('hall'))} "
                     f"| {_pct(rates.get('repetition'))} |")
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
    params = report.get("parameters") or {}
    seconds = report["stage_seconds"]
    lines += ["", f"Parameters: {params.get('total', '?'):,} in all ("
              + ", ".join(f"{k} {v:,}" for k, v in params.items() if k != "total") + ")." if params else "",
              "", "Wall time per stage (s): " + ", ".join(f"{k} {v}" for k, v in seconds.items())
              + f"; data to final model {report['training_seconds']} s.", ""]
    return "\n".join(lines)


def ship(run: Path, report: dict, dest: Path) -> Path:
    """Copy the final model and the reports into ``dest`` (replaced whole, via a sibling folder)."""
    final = Path(report["final_model"])
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(final, tmp)
    for name in ("report.json", "TRAINING.md"):
        shutil.copy2(run / name, tmp / ("training_report.json" if name == "report.json" else name))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m avcap.train.nano_report", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="the run folder of scripts/train_nano.sh (runs/nano)")
    parser.add_argument("--ship", type=Path, default=None, help="copy the final model and reports here")
    args = parser.parse_args(argv)
    report = build_report(args.run)
    atomic_write_json(args.run / "report.json", report)
    atomic_write_text(args.run / "TRAINING.md", render_markdown(report))
    print(render_markdown(report))
    if args.ship is not None:
        print(f"shipped to {ship(args.run, report, args.ship)}")


if __name__ == "__main__":
    main()
