"""``avcap train grpo``: AVoCaDO's GRPO stage (§3.2, App. C) on the shared Trainer + peft base.

The policy starts from the SFT model; a fresh LoRA on the LLM (or the whole LLM, ``finetune:
full``) and the aligners train, the encoders stay frozen (App. C). Each step is
:class:`avcap.train.grpo.GRPOObjective`: G samples per clip, R = R_C + R_D + R_L, eq. 1
advantages, eq. 2 with the per-token KL to the reference. The trained weights are merged into
``output_dir/model``. With ``eval_data`` the start and the final model caption the held-out rows
greedily and are scored (``eval_start.json``, ``eval_final.json``): Miss / Hall / Total by
``scorer``, checklist coverage, dialogue F1 and caption length by the reward judge.

Resumable: Trainer checkpoints (``save_steps``), ``rollouts.jsonl`` (a step's samples and
rewards are not made twice), the judge cache, the held-out captions; a finished run reports
"already finished".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

from avcap.data import DatasetRow
from avcap.train.configs import GRPOConfig, RewardArgs
from avcap.train.data import config_rows, row_prompt
from avcap.train.grpo import GRPOObjective, PromptItem, collate_prompts
from avcap.train.grpo_rewards import RewardFn, make_rewards
from avcap.train.recipes.common import (
    Processes,
    finished_report,
    fit,
    free_memory,
    init_processes,
    load_model,
    write_config,
    write_report,
)

log = logging.getLogger("avcap.train")


def caption_rows(cfg: GRPOConfig, procs: Processes, model_name: str, rows: list[DatasetRow], out_path: Path) -> list[str]:
    """Greedy captions of ``rows`` by ``model_name`` (resumable JSONL), batched per prompt."""
    import torch

    from avcap.data import JsonlAppender
    from avcap.models.base import GenerationConfig
    from avcap.train.data import load_row_clip

    captioner = load_model(cfg.model, cfg.optim, procs, name=model_name)
    captioner.model.eval()
    greedy = GenerationConfig(max_new_tokens=cfg.eval_max_new_tokens)
    with JsonlAppender(out_path, key=lambda r: r["id"]) as out:
        todo = [row for row in rows if row.id not in out.done]
        for start in range(0, len(todo), cfg.eval_batch_size):
            batch = todo[start:start + cfg.eval_batch_size]
            for prompt in dict.fromkeys(row_prompt(r, cfg.prompt) for r in batch):
                group = [r for r in batch if row_prompt(r, cfg.prompt) == prompt]
                with torch.no_grad():
                    captions = captioner.caption([load_row_clip(r, captioner.frame_policy) for r in group], prompt, greedy)
                for row, caption in zip(group, captions):
                    n = len(captioner.tokenizer(caption, add_special_tokens=False)["input_ids"])
                    out.append({"id": row.id, "caption": caption, "n_tokens": n})
        done = [out.rows[row.id] for row in rows]
    del captioner
    free_memory()
    return done


def evaluate(cfg: GRPOConfig, procs: Processes, model_name: str, rows: list[DatasetRow], out_dir: Path) -> dict:
    """Held-out Miss/Hall/Total, checklist coverage, dialogue F1 and length of ``model_name``'s captions."""
    from avcap.metrics.events import EventCounts, pooled_error_rates
    from avcap.train.scoring import make_scorer

    out_dir.mkdir(parents=True, exist_ok=True)
    done = caption_rows(cfg, procs, model_name, rows, out_dir / "eval_captions.jsonl")
    captions = [d["caption"] for d in done]
    n_tokens = [d["n_tokens"] for d in done]
    report: dict = {"rows": len(rows), "mean_tokens": sum(n_tokens) / len(n_tokens),
                    "mean_words": sum(len(c.split()) for c in captions) / len(captions)}
    scores = make_scorer(cfg.scorer, cfg.output_dir)(rows, captions)
    counts = [s for s in scores if isinstance(s, EventCounts)]
    report["score_failed"] = len(scores) - len(counts)
    if counts and sum(c.n_events for c in counts):
        report.update(pooled_error_rates(counts))
    if cfg.rewards.kind == "judge":  # every term, whatever the training reward used
        full = dataclasses.replace(cfg.rewards, checklist=True, dialogue=True, length=True)
        terms = make_rewards(full, cfg.output_dir)(rows, captions, n_tokens)
        for name in ("checklist", "dialogue", "length"):
            got = [getattr(t, name) for t in terms if getattr(t, name) is not None]
            report[f"{name}_mean" if name != "checklist" else "checklist_coverage"] = (
                sum(got) / len(got) if got else None)
        report["reward_failed"] = sum(t.error is not None for t in terms)
    return report


def _eval_once(cfg: GRPOConfig, procs: Processes, name: str, model: str, rows: list[DatasetRow]) -> dict | None:
    out = Path(cfg.output_dir)
    path = out / f"eval_{name}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    if not procs.is_main:
        return None
    from avcap.data import atomic_write_json

    report = evaluate(cfg, procs, model, rows, out / f"eval_{name}")
    atomic_write_json(path, report)
    return report


def reward_curve(rollouts: Path) -> list[dict]:
    """Mean reward (and terms) per optimizer step from ``rollouts.jsonl``."""
    steps: dict[int, dict[str, list[float]]] = {}
    if not rollouts.is_file():
        return []
    for line in rollouts.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        acc = steps.setdefault(int(rec["step"]), {"reward": [], "checklist": [], "dialogue": [], "length": []})
        for r in rec["rewards"]:
            for k in acc:
                if r.get(k) is not None:
                    acc[k].append(float(r[k]))
    return [{"step": s, **{k: (sum(v) / len(v) if v else None) for k, v in acc.items()}}
            for s, acc in sorted(steps.items())]


def run_grpo(cfg: GRPOConfig, rewards: RewardFn | None = None) -> dict:
    """Run (or resume) GRPO; ``rewards`` overrides ``cfg.rewards`` (a scripted reward in tests)."""
    finished = finished_report(cfg.output_dir)
    if finished is not None:
        return finished
    procs = init_processes(cfg.optim, cfg.model)
    out = Path(cfg.output_dir)
    write_config(cfg, out, procs)
    started = time.time()
    rows = config_rows(cfg, cfg.data, what="training")
    held_out = config_rows(cfg, cfg.eval_data, what="evaluation") if cfg.eval_data else None
    report: dict = {"recipe": "grpo", "start_model": cfg.model.name, "rows": len(rows),
                    "num_generations": cfg.num_generations, "beta": cfg.beta, "epsilon": cfg.epsilon,
                    "finetune": cfg.finetune, "rewards": _reward_terms(cfg.rewards) if rewards is None else "custom"}
    if held_out:
        report["eval_start"] = _eval_once(cfg, procs, "start", cfg.model.name, held_out)
    procs.barrier()
    reward_fn = rewards or make_rewards(cfg.rewards, out)
    objective = GRPOObjective(reward_fn, num_generations=cfg.num_generations, temperature=cfg.temperature,
                              top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens, epsilon=cfg.epsilon,
                              beta=cfg.beta, seed=cfg.optim.seed,
                              rollouts_path=out / (f"rollouts-{procs.rank}.jsonl" if procs.world > 1 else "rollouts.jsonl"))
    captioner = load_model(cfg.model, cfg.optim, procs)
    items = [PromptItem(row, row_prompt(row, cfg.prompt)) for row in rows]
    lora = cfg.lora if cfg.finetune == "lora" else None
    groups = tuple(cfg.train_groups) + (("llm",) if cfg.finetune == "full" else ())
    try:
        report["train"] = fit(cfg, procs, captioner, start=cfg.model.name, items=items, collator=collate_prompts,
                              objective=objective, lora=lora, train_aligner=cfg.train_aligner, optim=cfg.optim,
                              out_dir=out, no_dropout=cfg.disable_dropout, full_groups=groups,
                              snapshot_full_groups=True, configure=objective.bind)
    finally:
        objective.close()
    report["model"] = str(out / "model")
    report["reward_curve"] = reward_curve(out / "rollouts.jsonl")
    report["step_metrics"] = objective.step_log  # this process's steps (kl, reward, ...); a resumed run: its own
    if held_out:
        report["eval_final"] = _eval_once(cfg, procs, "final", str(out / "model"), held_out)
    report["seconds"] = time.time() - started
    write_report(out / "report.json", report, procs)
    return report


def _reward_terms(args: RewardArgs) -> str:
    if args.kind != "judge":
        return args.kind
    return " + ".join(n for n, on in (("R_C", args.checklist), ("R_D", args.dialogue), ("R_L", args.length)) if on)
