"""``avcap train mrdpo``: multi-round DPO with a LoRA proxy (video-SALMONN 2 §3.3, Appendix C).

Round t (1-based), starting from the merged model of round t-1 (round 0 = ``model.name``):

1. sample K captions per training video with nucleus sampling (``samples-<rank>.jsonl``);
2. score each caption's missing / incorrect / hallucinated events (``scores.jsonl``, cached);
3. select at most one (chosen, rejected) pair per video by Table 6's Δe / Δr thresholds of
   round t (``pairs.jsonl``, ``pair_stats.json``);
4. train gDPO (eq. 9) with a fresh LoRA whose reference is the round-start model (the adapter
   disabled), learning rate ``round_lrs[t]``; in the last round extra SFT/QA rows join (§4.2);
5. merge the LoRA, W_t = W_{t-1} + α·BA (eq. 8), into ``round_<t>/model``; report.

Simplification (stated, as the paper does not say otherwise): K captions are sampled per
video and the pair with the largest Δe among them is kept; with K = 2 this is the paper's
"a pair of captions for each video".

Every step is resumable: a killed run re-enters the first round without ``report.json``,
skips sampled videos and scored captions, and resumes training from the round's newest
Trainer checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

from avcap.data import DatasetRow
from avcap.train.configs import MrDPOConfig
from avcap.train.data import PreferenceCollator, config_rows, load_rows, preference_items, supervised_items
from avcap.train.objectives import DPOObjective
from avcap.train.pairs import sample_round, score_round, select_round
from avcap.train.recipes.common import (
    Processes,
    fit,
    free_memory,
    init_processes,
    load_model,
    write_config,
    write_report,
)
from avcap.train.scoring import Scorer, make_scorer

log = logging.getLogger("avcap.train")

def round_dir(cfg: MrDPOConfig, t: int) -> Path:
    return Path(cfg.output_dir) / f"round_{t}"


def _completed(cfg: MrDPOConfig, t: int) -> dict | None:
    path = round_dir(cfg, t) / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def evaluate_model(cfg: MrDPOConfig, procs: Processes, model_name: str, rows: list[DatasetRow], scorer: Scorer,
                   out_dir: Path) -> dict:
    """Greedy captions of held-out rows by ``model_name``, scored: pooled Miss/Hall/Total (App. F)."""
    import torch

    from avcap.data import JsonlAppender
    from avcap.metrics.events import EventCounts, pooled_error_rates
    from avcap.models.base import GenerationConfig
    from avcap.train.data import load_row_clip
    from avcap.train.scoring import ScoreFailure

    captioner = load_model(cfg.model, cfg.optim, procs, name=model_name)
    captioner.model.eval()
    greedy = GenerationConfig(max_new_tokens=cfg.eval_max_new_tokens)
    with JsonlAppender(out_dir / "eval_captions.jsonl", key=lambda r: r["id"]) as out:
        todo = [row for row in rows if row.id not in out.done]
        # Batched greedy decoding gives the captions one-by-one decoding gives (pinned per family
        # in tests/models), so held-out rows sharing a prompt are captioned together.
        size = max(1, cfg.sampling.batch_videos)
        for start in range(0, len(todo), size):
            batch = todo[start:start + size]
            for prompt in dict.fromkeys(row.prompt or cfg.prompt for row in batch):
                group = [row for row in batch if (row.prompt or cfg.prompt) == prompt]
                with torch.no_grad():
                    captions = captioner.caption([load_row_clip(row, captioner.frame_policy) for row in group],
                                                 prompt, greedy)
                for row, caption in zip(group, captions):
                    out.append({"id": row.id, "caption": caption})
        captions = [out.rows[row.id]["caption"] for row in rows]
    del captioner
    free_memory()
    scores = scorer(rows, captions)
    counts = [s for s in scores if isinstance(s, EventCounts)]
    failed = [s.cause for s in scores if isinstance(s, ScoreFailure)]
    rates = pooled_error_rates(counts) if counts and sum(c.n_events for c in counts) else {}
    return {"rows": len(rows), "failed": len(failed), "failure_examples": failed[:5], **rates}


def run_round(cfg: MrDPOConfig, procs: Processes, t: int, start: str, rows: list[DatasetRow], scorer: Scorer,
              extra_rows: list[DatasetRow] | None) -> dict:
    """One round of the loop above; returns its report (also written to ``round_<t>/report.json``)."""
    rdir = round_dir(cfg, t)
    started = time.time()
    captioner = load_model(cfg.model, cfg.optim, procs, name=start)
    sample_round(captioner, rows, rdir, cfg.sampling, cfg.prompt, seed=cfg.optim.seed + 1_000_003 * t,
                 rank=procs.rank, world=procs.world)
    procs.barrier()
    if procs.is_main:
        scores = score_round(rows, rdir, scorer)
        select_round(rows, rdir, scores, t, cfg.round_thresholds(t), max_miss_rise=cfg.max_miss_rise)
    procs.barrier()
    stats = json.loads((rdir / "pair_stats.json").read_text(encoding="utf-8"))
    gdpo = cfg.objective == "gdpo"
    items: list = []
    if stats["pairs"]:
        # avcap wrote these rows from the already-checked training rows: their media paths are trusted.
        items = preference_items(load_rows(rdir / "pairs.jsonl", what="preference", allow_outside_paths=True),
                                 cfg.prompt, need_reference=gdpo)
    if extra_rows:
        items += supervised_items(extra_rows, cfg.prompt)
    report: dict = {"round": t, "start_model": start, "learning_rate": cfg.round_lr(t), "pairs": stats,
                    "extra_rows": len(extra_rows or [])}
    if items:
        objective = DPOObjective(beta=cfg.beta, lam=cfg.lam, gdpo=gdpo, concat_forward=cfg.concat_forward,
                                 extra_weight=cfg.last_round_weight)
        optim = dataclasses.replace(cfg.optim, seed=cfg.optim.seed + t)  # a different fresh LoRA each round
        report["train"] = fit(cfg, procs, captioner, start=start, items=items, collator=PreferenceCollator(gdpo),
                              objective=objective, lora=cfg.lora, train_aligner=cfg.train_aligner, optim=optim,
                              out_dir=rdir, learning_rate=cfg.round_lr(t), no_dropout=cfg.disable_dropout)
        report["model"] = str(rdir / "model")
    else:  # nothing passed the thresholds: the model carries over unchanged
        del captioner
        free_memory()
        report["model"] = start
        report["skipped"] = "no pair passed the round's thresholds"
    report["seconds"] = time.time() - started
    return report


def round_summary(report: dict) -> str:
    """One line per round for the console: pairs kept, errors of the sampled captions, outcome."""
    stats = report["pairs"]
    line = (f"round {report['round']}: {stats['captions_scored']} captions scored "
            f"(mean total error {stats['mean_total_error']:.1%}), {stats['pairs']} pairs kept")
    first = report.get("train", {}).get("first_step", {}).get("dpo_loss")
    if first is not None:
        line += f", first-step DPO loss {first:.4f}"
    if "eval" in report:
        line += f", held-out total error {report['eval'].get('total', float('nan')):.1%}"
    return line + (f"; {report['skipped']}" if report.get("skipped") else f"; model -> {report['model']}")


def run_mrdpo(cfg: MrDPOConfig, scorer: Scorer | None = None) -> dict:
    """Run (or resume) all rounds; ``scorer`` overrides ``cfg.scorer`` (e.g. a scripted one in tests)."""
    procs = init_processes(cfg.optim, cfg.model)
    out = Path(cfg.output_dir)
    write_config(cfg, out, procs)
    rows = config_rows(cfg, cfg.data, what="training")
    missing = [row.source for row in rows if not row.reference]
    if cfg.objective == "gdpo" and missing:
        from avcap.errors import DataError

        raise DataError(f"{missing[0]}: gDPO needs each training row's ground-truth caption")
    extra = config_rows(cfg, cfg.last_round_data, what="extra") if cfg.last_round_data else None
    held_out = config_rows(cfg, cfg.eval_data, what="evaluation") if cfg.eval_data else None
    scorer = scorer or make_scorer(cfg.scorer, out)
    rounds: list[dict] = []
    start = cfg.model.name
    if held_out and procs.is_main and not (out / "eval_start.json").is_file():
        from avcap.data import atomic_write_json

        atomic_write_json(out / "eval_start.json", evaluate_model(cfg, procs, start, held_out, scorer, out / "eval_start"))
    for t in range(1, cfg.rounds + 1):
        report = _completed(cfg, t)
        if report is None:
            report = run_round(cfg, procs, t, start, rows, scorer, extra if t == cfg.rounds else None)
            if held_out and procs.is_main:
                report["eval"] = evaluate_model(cfg, procs, report["model"], held_out, scorer, round_dir(cfg, t))
            procs.barrier()
            write_report(round_dir(cfg, t) / "report.json", report, procs)
        rounds.append(report)
        start = report["model"]
        if procs.is_main:
            log.info("%s", round_summary(report))
    summary = {"recipe": "mrdpo", "rounds": len(rounds), "final_model": start, "world_size": procs.world,
               "per_round": [{"round": r["round"], "pairs": r["pairs"]["pairs"],
                              "mean_total_error": r["pairs"]["mean_total_error"],
                              "first_step_dpo_loss": r.get("train", {}).get("first_step", {}).get("dpo_loss"),
                              "eval_total": r.get("eval", {}).get("total")} for r in rounds]}
    if held_out and (out / "eval_start.json").is_file():
        summary["eval_start"] = json.loads((out / "eval_start.json").read_text(encoding="utf-8"))
    write_report(out / "report.json", summary, procs)
    return summary
