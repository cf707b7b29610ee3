"""The GRPO evidence report of ``scripts/grpo_nano.sh``: Table 4's ablation on the nano world.

    python -m avcap.train.grpo_report RUN --eval-config configs/nano/grpo.yaml

reads ``RUN/{rc, rc_rd, rc_rd_rl}/report.json`` (GRPO runs: held-out evaluation before and after,
reward per step) and ``RUN/sft`` (the SFT-on-the-same-prompts control, evaluated here the same
way), and writes ``RUN/report.json``, ``RUN/report.md`` (the table) and ``RUN/report.html`` (the
table and the mean reward per step as an inline SVG plot).
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path

RUNS = (("rc", "GRPO R_C"), ("rc_rd", "GRPO R_C + R_D"), ("rc_rd_rl", "GRPO R_C + R_D + R_L"),
        ("sft", "SFT on the same prompts"))
COLUMNS = (("total", "Total %"), ("miss", "Miss %"), ("hall", "Hall %"), ("checklist_coverage", "Checklist %"),
           ("dialogue_mean", "Dlg. F1 %"), ("length_mean", "R_L %"), ("mean_tokens", "tokens"))


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def evaluate_sft(run: Path, eval_config: str) -> dict | None:
    """Held-out evaluation of the SFT control's model, as the GRPO runs evaluate theirs."""
    from avcap.config import load_config
    from avcap.train.configs import GRPOConfig
    from avcap.train.data import config_rows
    from avcap.train.recipes.common import init_processes
    from avcap.train.recipes.grpo import _eval_once

    model = run / "sft" / "model"
    grpo = next((_load(run / n / "report.json") for n, _ in RUNS[:3] if (run / n / "report.json").is_file()), None)
    if not (model / "config.json").is_file() or grpo is None:
        return None
    cfg_path = run / "rc" / "config.yaml"
    cfg = load_config(GRPOConfig, cfg_path if cfg_path.is_file() else eval_config,
                      ["--output_dir", str(run / "sft"), "--model.name", str(model)])
    procs = init_processes(cfg.optim, cfg.model)
    rows = config_rows(cfg, cfg.eval_data, what="evaluation")
    return _eval_once(cfg, procs, "final", str(model), rows)


def build(run: Path, eval_config: str) -> dict:
    out: dict = {"runs": {}}
    for name, label in RUNS:
        if name == "sft":
            final = evaluate_sft(run, eval_config)
            if final is not None:
                out["runs"][name] = {"label": label, "eval_final": final}
            continue
        report = _load(run / name / "report.json")
        if report is not None:
            out["runs"][name] = {"label": label, "eval_start": report.get("eval_start"),
                                 "eval_final": report.get("eval_final"), "reward_curve": report.get("reward_curve", []),
                                 "seconds": report.get("seconds"), "steps": len(report.get("reward_curve", []))}
    start = next((r["eval_start"] for r in out["runs"].values() if r.get("eval_start")), None)
    out["start"] = start
    return out


def _cell(report: dict | None, key: str) -> str:
    if not report or report.get(key) is None:
        return "–"
    value = report[key]
    return f"{value:.1f}" if key == "mean_tokens" else f"{100 * value:.1f}"


def table(data: dict) -> str:
    lines = ["| model | " + " | ".join(c for _, c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    if data["start"]:
        lines.append("| start (builtin:nano) | " + " | ".join(_cell(data["start"], k) for k, _ in COLUMNS) + " |")
    for run in data["runs"].values():
        lines.append(f"| {run['label']} | " + " | ".join(_cell(run.get("eval_final"), k) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def write(run: Path, data: dict) -> None:
    from avcap.data import atomic_write_json
    from avcap.eval.report_svg import svg_line_chart

    atomic_write_json(run / "report.json", data)
    md = ("# AVoCaDO GRPO on the nano world (held-out, symbolic judge)\n\n" + table(data) + "\n\n"
          "Total/Miss/Hall: pooled event error rates (video-SALMONN 2); Checklist: R_C coverage (eq. 3); "
          "Dlg. F1: R_D (eq. 7); R_L: eq. 8; tokens: mean caption length.\n")
    (run / "report.md").write_text(md, encoding="utf-8")
    series = {r["label"]: [(c["step"], c["reward"]) for c in r["reward_curve"] if c.get("reward") is not None]
              for r in data["runs"].values() if r.get("reward_curve")}
    checklist = {r["label"]: [(c["step"], c["checklist"]) for c in r["reward_curve"] if c.get("checklist") is not None]
                 for r in data["runs"].values() if r.get("reward_curve")}
    plots = ""
    if any(series.values()):
        plots += svg_line_chart({k: v for k, v in series.items() if v}, title="mean reward R per step", y_label="R")
    if any(checklist.values()):
        plots += svg_line_chart({k: v for k, v in checklist.items() if v}, title="mean R_C per step", y_label="R_C")
    rows = "".join(f"<tr>{''.join(f'<td>{html.escape(c.strip())}</td>' for c in line.strip('|').split('|'))}</tr>"
                   for line in table(data).splitlines()[2:])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", *[c for _, c in COLUMNS]])
    (run / "report.html").write_text(
        "<!doctype html><meta charset=utf-8><title>avcap GRPO nano</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}.l{font-size:10px}"
        ".t{font-size:12px}</style><h1>AVoCaDO GRPO on the nano world</h1>"
        f"<table><tr>{head}</tr>{rows}</table>{plots}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--eval-config", default="configs/nano/grpo.yaml")
    args = parser.parse_args()
    data = build(args.run, args.eval_config)
    write(args.run, data)
    print(table(data))


if __name__ == "__main__":
    main()
