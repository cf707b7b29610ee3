"""The training report of a nano captioner run (``scripts/train_nano.sh``), and its shipping.

``python -m avcap.train.nano_report RUN [--ship DIR]`` reads the run folder the script wrote::

    RUN/stage_seconds.tsv          wall time of each stage
    RUN/init/avcap.json            parameter counts
    RUN/sft/report.json            SFT training metrics
    RUN/mrdpo/                     gDPO MrDPO: eval_start.json (after SFT), round_<t>/report.json
    RUN/mrdpo_dpo/                 the same rounds with plain DPO
    RUN/align/report.json          align training metrics (its loss history)
    RUN/ablation/audio_{on,off}/   the final model on the held-out set with and without sound
    RUN/data/heldout/train.json    the held-out rows with their event scripts

and writes ``RUN/report.json``, ``RUN/TRAINING.md`` and ``RUN/report.html`` (held-out Total /
Miss / Hall after SFT and after each round, gDPO vs DPO, audio on vs off, per-event-kind recall
with and without sound, pairs per round, stage timings; the HTML adds inline SVG plots of the
loss curves and of the per-round and per-kind bars). ``--ship DIR`` pins the final model's score
on a fixed held-out slice (:mod:`avcap.train.nano_pin`) into the report and copies the model
with the three reports into ``DIR`` (``avcap/assets/nano`` is what ``builtin:nano`` loads).
``--readme README.md`` rewrites the README's evidence block from the report
(:mod:`avcap.train.nano_report_render`); ``tests/test_readme_nano.py`` checks it matches the
shipped report.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from avcap.data import atomic_write_json, atomic_write_text
from avcap.train import nano_pin
from avcap.train.nano_report_render import (
    VARIANTS,
    render_html,
    render_markdown,
    render_readme_block,
    replace_readme_block,
)

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


MAX_CURVE_POINTS = 200  # per stage: enough for a plot, small enough for the shipped JSON


def loss_history(stage_report: dict) -> list[list[float]]:
    """``[step, loss]`` of a recipe report's logged training steps (``train.log_history``), thinned."""
    points = [[h["step"], h["loss"]] for h in stage_report.get("train", {}).get("log_history", [])
              if "loss" in h and "step" in h]
    stride = -(-len(points) // MAX_CURVE_POINTS) or 1
    return points[::stride] + ([points[-1]] if points and (len(points) - 1) % stride else [])


def loss_curves(run: Path) -> dict[str, list[list[float]]]:
    """Training loss per stage: align, sft, and each MrDPO round of the gDPO and DPO runs."""
    curves = {stage: loss_history(_json(run / stage / "report.json")) for stage in ("align", "sft")}
    for name, _, folder in VARIANTS:
        for t in range(1, _json(run / folder / "report.json").get("rounds", 0) + 1):
            curves[f"{name} round {t}"] = loss_history(_json(run / folder / f"round_{t}" / "report.json"))
    return {k: v for k, v in curves.items() if v}


def heldout_listen(run: Path) -> dict | None:
    """Per-event-kind recall of the final model's held-out captions with sound vs muted (audio on/off)."""
    from avcap.eval.listen import listen_summary

    rows_path = run / "data" / "heldout" / "train.json"
    on, off = (run / "ablation" / f"audio_{k}" / "captions.jsonl" for k in ("on", "off"))
    if not (rows_path.is_file() and on.is_file() and off.is_file()):
        return None
    rows = [r for r in json.loads(rows_path.read_text(encoding="utf-8")) if "script" in r]
    return listen_summary(rows, on, off) if rows else None


def build_report(run: Path, final: str = "mrdpo") -> dict:
    """The report of ``run``; ``final``: the MrDPO folder whose last model is the final one."""
    variants = {key: mrdpo_rows(run / folder) for _, key, folder in VARIANTS}
    gdpo, dpo = variants["gdpo"], variants["dpo"]
    sft_total, sft_miss = gdpo[0].get("total"), gdpo[0].get("miss")
    for rows in variants.values():
        for row in rows:
            row["vs_sft"] = relative_change(sft_total, row.get("total"))
            # Points, not a ratio: "Miss not rising by more than 2 points" (issue 13) separates a real
            # gain from one bought by saying less.
            row["miss_vs_sft"] = None if sft_miss is None or row.get("miss") is None else row["miss"] - sft_miss
    seconds = stage_seconds(run)
    # Data to the final model; a variant reuses the main run's round-1 samples, so both count.
    training = [k for k in dict.fromkeys(("data", "build", "align", "sft", "mrdpo", final)) if k in seconds]
    heldout = _json(run / "mrdpo" / "eval_start.json").get("rows")
    return {
        "reproduce": REPRODUCE,
        "heldout_videos": heldout,
        "parameters": _json(run / "init" / "avcap.json").get("parameters"),
        "sft": {k: _json(run / "sft" / "report.json").get("train", {}).get(k)
                for k in ("global_step", "train_loss", "last")},
        "gdpo": gdpo,
        "dpo": dpo,
        **{key: rows for key, rows in variants.items() if key not in ("gdpo", "dpo") and len(rows) > 1},
        "audio": {"on": ablation_rates(run / "ablation" / "audio_on"),
                  "off": ablation_rates(run / "ablation" / "audio_off")},
        "listen": heldout_listen(run),
        "curves": loss_curves(run),
        "reliance": {name: _json(run / "reliance" / f"{name}.json") or None for name in ("sft", "final")},
        "stage_seconds": seconds,
        "training_seconds": sum(seconds[k] for k in training),
        "final_model": _json(run / final / "report.json").get("final_model"),
    }


REPORT_FILES = {"report.json": "training_report.json", "TRAINING.md": "TRAINING.md", "report.html": "report.html"}


def write_reports(run: Path, report: dict) -> str:
    """``RUN/report.json``, ``TRAINING.md`` and ``report.html``; returns the markdown."""
    text = render_markdown(report)
    atomic_write_json(run / "report.json", report)
    atomic_write_text(run / "TRAINING.md", text)
    atomic_write_text(run / "report.html", render_html(report))
    return text


def ship(run: Path, report: dict, dest: Path) -> Path:
    """Pin the final model's slice score into ``report``, then copy the model and the reports into
    ``dest`` (replaced whole, via a sibling folder)."""
    import tempfile

    final = Path(report["final_model"])
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(final, tmp)
    with tempfile.TemporaryDirectory(prefix="avcap-pin-") as work:
        report["pin"] = nano_pin.pin_slice(str(tmp), work)  # the copy that ships, loaded as builtin:nano is
    write_reports(run, report)
    for name, shipped in REPORT_FILES.items():
        shutil.copy2(run / name, tmp / shipped)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def update_readme(readme: Path, report: dict) -> bool:
    """Rewrite the README's evidence block from ``report``; True if the text changed."""
    text = readme.read_text(encoding="utf-8")
    new = replace_readme_block(text, render_readme_block(report))
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m avcap.train.nano_report", description=__doc__.split("\n")[0],
                                     epilog="Examples: python -m avcap.train.nano_report runs/nano --ship avcap/assets/nano "
                                            "--readme README.md;  python -m avcap.train.nano_report --from "
                                            "avcap/assets/nano/training_report.json --readme README.md")
    parser.add_argument("run", type=Path, nargs="?", help="the run folder of scripts/train_nano.sh (runs/nano)")
    parser.add_argument("--ship", type=Path, default=None, help="pin and copy the final model and reports here")
    parser.add_argument("--final", default="mrdpo", choices=[folder for _, _, folder in VARIANTS],
                        help="the MrDPO run whose last model is the final (shipped) one")
    parser.add_argument("--readme", type=Path, default=None,
                        help="rewrite this README's <!-- nano-evidence:start/end --> block from the report")
    parser.add_argument("--from", dest="from_report", type=Path, default=None,
                        help="with --readme and no RUN: render the block from this report (the shipped "
                             "training_report.json), e.g. after changing how it renders")
    args = parser.parse_args(argv)
    if (args.run is None) == (args.from_report is None):
        parser.error("give either RUN or --from REPORT")
    if args.from_report is not None and (args.ship is not None or args.readme is None):
        parser.error("--from only renders the README block: give --readme, not --ship")
    if args.readme is not None and not args.readme.is_file():
        parser.error(f"--readme {args.readme}: no such file")
    if args.from_report is not None:
        report = json.loads(args.from_report.read_text(encoding="utf-8"))
    else:
        report = build_report(args.run, final=args.final)
        if args.ship is not None:
            dest = ship(args.run, report, args.ship)
            print(f"shipped to {dest} (pin: Total {report['pin']['total']:.4f} on {len(report['pin']['ids'])} videos)")
        print(write_reports(args.run, report))
    if args.readme is not None:
        try:
            changed = update_readme(args.readme, report)
        except ValueError as err:
            parser.error(f"--readme {args.readme}: {err}")
        print(f"{args.readme}: evidence block {'rewritten' if changed else 'already up to date'}")


if __name__ == "__main__":
    main()
