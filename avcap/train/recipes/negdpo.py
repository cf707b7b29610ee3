"""``avcap train negdpo``: Tarsier2's DPO on corrupted-video negatives (§3.3, eq. 1-2, Appendix D).

1. read the candidates of ``avcap pairs negatives`` (``cfg.data``) and select this setting's
   pairs (:func:`avcap.train.negpairs.select_pairs`): full = (y, ỹ) filtered by eq. 1;
   ``no_negative_sampling`` = (y, y'); ``no_filter`` = every candidate; ``num_pairs`` draws the
   same number for every setting (Table 10's "training data size ... kept consistent");
2. write them to ``output_dir/pairs.jsonl`` (a valid ``avcap train dpo`` input) and
   ``pair_stats.json``;
3. train vanilla DPO (eq. 2, β 0.1) with the DPO recipe's machinery: a fresh LoRA, reference =
   the adapter disabled. Each pair's video is the *clean* clip: the corrupted clip only generated
   ỹ, and π(y|x), π(ỹ|x) are both scored on x, as eq. 2 writes;
4. with ``eval_data``: caption the held-out rows greedily with the start model and the trained
   one, and score Miss/Hall/Total (the event judge) and AutoDQ P/R/F1 (``scorer``).

Resumable like every recipe: the selection is a pure function of the pairs file, training
resumes from its newest checkpoint, and held-out captions are appended row by row.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from avcap.data import DatasetRow, atomic_write_json, atomic_write_text, parse_row
from avcap.errors import DataError
from avcap.train.configs import NegDPOConfig
from avcap.train.data import PreferenceCollator, PreferenceItem, config_rows
from avcap.train.negatives import read_pairs
from avcap.train.negpairs import select_pairs
from avcap.train.objectives import DPOObjective
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


def preference_items_from(rows: list[dict], source: Path, default_prompt: str, media_root: Path | None
                          ) -> list[PreferenceItem]:
    """Selected pairs -> items; each is scored with the prompt its captions were sampled with.

    ``media_root`` confines the pairs' video / audio paths (None: any path), as for any dataset.
    """
    items = []
    for line, obj in enumerate(rows, 1):
        row = parse_row(obj, source.parent, f"{source}:{line}", media_root=media_root)
        prompt = (obj.get("sampling") or {}).get("prompt") or row.prompt or default_prompt
        items.append(PreferenceItem(row, prompt, obj["chosen"], obj["rejected"], row.reference))
    return items


def _check_frames(pairs: list[dict], captioner) -> None:
    """x must be the clip the captions were sampled from: training decodes with the model's own policy."""
    from avcap.errors import ConfigError
    from avcap.media import get_policy

    own = get_policy(captioner.frame_policy).name
    for pair in pairs:
        frames = (pair.get("sampling") or {}).get("frames")
        if frames is not None and get_policy(frames).name != own:
            raise ConfigError(f"pair '{pair.get('id')}' was sampled with --frames {frames}, but {captioner.name} "
                              f"decodes its training clips with its own policy ({own}); sample again without --frames")


def evaluate(cfg: NegDPOConfig, procs: Processes, model_name: str, rows: list[DatasetRow], event_scorer,
             autodq_scorer, out_dir: Path) -> dict:
    """Greedy held-out captions of ``model_name``: pooled Miss/Hall/Total and AutoDQ P/R/F1."""
    from avcap.data import iter_jsonl
    from avcap.data.grounding import strip_frame_tags
    from avcap.metrics.autodq import autodq_aggregate
    from avcap.metrics.events import EventCounts, pooled_error_rates
    from avcap.models.base import GenerationConfig
    from avcap.models.captioning import CaptionItem, CaptionRunConfig, run_captioning
    from avcap.train.scoring import ScoreFailure

    captioner = load_model(cfg.model, cfg.optim, procs, name=model_name)
    captioner.model.eval()
    out = out_dir / "eval_captions.jsonl"
    items = [CaptionItem(row.id, row.video, row.audio, row.prompt or cfg.prompt) for row in rows]
    run_captioning(captioner, items, CaptionRunConfig(out=out, generation=GenerationConfig(
        max_new_tokens=cfg.eval_max_new_tokens), batch_size=cfg.eval_batch_size, progress=False))
    del captioner
    free_memory()
    captions = {rec["id"]: rec for _, rec in iter_jsonl(out)}
    scored = [(row, strip_frame_tags(captions[row.id]["caption"])) for row in rows
              if captions.get(row.id, {}).get("error") is None and row.id in captions]
    failed = [captions[row.id]["error"] for row in rows if row.id in captions and captions[row.id].get("error")]
    judged = [r for r, _ in scored]
    texts = [c for _, c in scored]
    counts = event_scorer(judged, texts) if scored else []
    good = [c for c in counts if isinstance(c, EventCounts)]
    failed += [c.cause for c in counts if isinstance(c, ScoreFailure)]
    report: dict = {"model": model_name, "rows": len(rows), "failed": len(failed), "failure_examples": failed[:5]}
    if good and sum(c.n_events for c in good):
        report.update(pooled_error_rates(good))
    dq = [r for r in (autodq_scorer(judged, texts) if scored else []) if not isinstance(r, ScoreFailure)]
    if dq:
        overall = autodq_aggregate([("all", p, r) for p, r in dq])["overall"]
        report["autodq"] = {k: overall[k] for k in ("precision", "recall", "f1", "n_items")}
    return report


def _eval_once(path: Path, compute) -> dict:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    result = compute()
    atomic_write_json(path, result)
    return result


def run_negdpo(cfg: NegDPOConfig, event_scorer=None, autodq_scorer=None) -> dict:
    """Select, train, evaluate; scorers override ``cfg.scorer`` (tests pass scripted ones)."""
    from avcap.train.autodq_scoring import make_autodq_scorer
    from avcap.train.scoring import make_scorer

    out = Path(cfg.output_dir)
    if (finished := finished_report(out)) is not None:
        return finished
    procs = init_processes(cfg.optim, cfg.model)
    write_config(cfg, out, procs)
    source = Path(cfg.data)
    if not source.is_file():
        raise DataError(f"{source}: pairs file not found (make it with `avcap pairs negatives`)")
    candidates, failed_rows = read_pairs(source)
    if not candidates:
        raise DataError(f"{source}: no scored candidate rows")
    pairs, info = select_pairs(candidates, negative_sampling=not cfg.no_negative_sampling,
                               use_filter=not cfg.no_filter, delta=cfg.delta, num_pairs=cfg.num_pairs,
                               seed=cfg.optim.seed)
    info["failed_rows_in_source"] = len(failed_rows)
    if procs.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "pairs.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
        atomic_write_json(out / "pair_stats.json", info)
    if not pairs:
        raise DataError(f"{source}: no pair passed the selection ({info['setting']}, δ = {cfg.delta}; "
                        f"{info['candidates']} candidates)")
    # The pairs' media must lie where a dataset's may: inside media_root, by default the pairs file's
    # folder (so a pairs file from elsewhere cannot make training open arbitrary files).
    root = None if cfg.allow_outside_paths else Path(os.path.realpath(Path(cfg.media_root or source.resolve().parent)))
    items = preference_items_from(pairs, source, cfg.prompt, root)  # an OutsidePathError names the fix
    held_out = config_rows(cfg, cfg.eval_data, what="evaluation") if cfg.eval_data else None
    event_scorer = event_scorer or make_scorer(cfg.scorer, out)
    autodq_scorer = autodq_scorer or make_autodq_scorer(cfg.scorer, out)
    started = time.time()
    report: dict = {"recipe": "negdpo", "setting": info["setting"], "pairs": info}
    if held_out and procs.is_main:
        report["eval_start"] = _eval_once(out / "eval_start.json", lambda: evaluate(
            cfg, procs, cfg.model.name, held_out, event_scorer, autodq_scorer, out / "eval_start"))
    procs.barrier()
    captioner = load_model(cfg.model, cfg.optim, procs)
    _check_frames(pairs, captioner)
    objective = DPOObjective(beta=cfg.beta, gdpo=False, concat_forward=cfg.concat_forward)
    report["train"] = fit(cfg, procs, captioner, start=cfg.model.name, items=items,
                          collator=PreferenceCollator(with_ground_truth=False), objective=objective, lora=cfg.lora,
                          train_aligner=cfg.train_aligner, optim=cfg.optim, out_dir=out,
                          no_dropout=cfg.disable_dropout)
    report["model"] = str(out / "model")
    if held_out and procs.is_main:
        report["eval_final"] = _eval_once(out / "eval_final.json", lambda: evaluate(
            cfg, procs, report["model"], held_out, event_scorer, autodq_scorer, out / "eval_final"))
    procs.barrier()
    report.update({"seconds": time.time() - started, "world_size": procs.world})
    write_report(out / "report.json", report, procs)
    return report
