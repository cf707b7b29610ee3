"""MrDPO's data for one round: sample captions → score them → select preference pairs.

Files in a round folder (all resumable: a killed run redoes only what is missing)::

    samples-<rank>.jsonl  one line per video: its K sampled captions (append-only, one file per rank)
    scores.jsonl          one line per caption: event counts, error rates, repetition (append-only)
    pairs.jsonl           preference rows (the dataset row + chosen + rejected + scores),
                          a valid input of ``avcap train gdpo``; rewritten from the scores
    pair_stats.json       counts and means for the round report

Selection follows video-SALMONN 2 §3.3.1 and Appendix C: a video yields a pair when one of
its captions beats another by at least Δe in total error rate and Δr in repetition rate
(:func:`avcap.metrics.pairs.select_pair`); the better one is chosen.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from avcap.data import DatasetRow, JsonlAppender, atomic_write_json, atomic_write_text, iter_jsonl
from avcap.errors import AvcapError
from avcap.metrics.events import item_error_rates
from avcap.metrics.pairs import select_pair
from avcap.metrics.repetition import repetition_rate
from avcap.models.base import GenerationConfig
from avcap.train.configs import SamplingArgs
from avcap.train.scoring import ScoreFailure, Scorer

SCORE_CHUNK = 64  # captions per scorer call: progress is saved between calls


def _sample_files(round_dir: Path) -> list[Path]:
    return sorted(round_dir.glob("samples-*.jsonl"))


def read_samples(round_dir: Path) -> dict[str, list[str]]:
    """id -> sampled captions, from every rank's file (lines with an error are skipped)."""
    out: dict[str, list[str]] = {}
    for path in _sample_files(round_dir):
        for _, rec in iter_jsonl(path):
            if rec.get("error") is None:
                out[rec["id"]] = list(rec["captions"])
    return out


def sample_round(captioner, rows: Sequence[DatasetRow], round_dir: Path, sampling: SamplingArgs, default_prompt: str,
                 seed: int, rank: int = 0, world: int = 1) -> None:
    """Sample ``sampling.num_samples`` captions per video with nucleus sampling (§3.3.1).

    Rank r takes rows r, r + world, ...; videos already sampled by any rank are skipped. A
    video that cannot be decoded is recorded with its error (and retried on the next run).
    """
    import torch

    from avcap.train.data import load_row_clip

    round_dir.mkdir(parents=True, exist_ok=True)
    done = set(read_samples(round_dir))
    position = {row.id: i for i, row in enumerate(rows)}  # seeds depend on the row, not on the batch
    todo = [row for i, row in enumerate(rows) if i % world == rank and row.id not in done]
    captioner.model.eval()
    with JsonlAppender(round_dir / f"samples-{rank}.jsonl", key=lambda r: r["id"],
                       skip_row=lambda r: r.get("error") is not None) as out:
        for start in range(0, len(todo), sampling.batch_videos):
            batch = todo[start : start + sampling.batch_videos]
            clips, ok = [], []
            for row in batch:
                try:
                    clips.append(load_row_clip(row, captioner.frame_policy))
                    ok.append(row)
                except AvcapError as err:
                    out.append({"id": row.id, "captions": [], "error": str(err)})
            for prompt in dict.fromkeys(row.prompt or default_prompt for row in ok):  # one prompt per call
                group = [(row, clip) for row, clip in zip(ok, clips) if (row.prompt or default_prompt) == prompt]
                generation = GenerationConfig(
                    max_new_tokens=sampling.max_new_tokens, temperature=sampling.temperature, top_p=sampling.top_p,
                    num_samples=sampling.num_samples, seed=seed + position[group[0][0].id],
                )
                with torch.no_grad():
                    captions = captioner.caption([clip for _, clip in group], prompt, generation)
                k = sampling.num_samples
                for i, (row, _) in enumerate(group):  # clip-major: the K samples of clip i are together
                    out.append({"id": row.id, "captions": captions[i * k : (i + 1) * k], "seed": generation.seed,
                                "error": None})


def _score_record(row: DatasetRow, sample: int, caption: str, score) -> dict:
    rec = {"id": row.id, "sample": sample, "caption": caption, "repetition": repetition_rate(caption)}
    if isinstance(score, ScoreFailure):
        return {**rec, "error": score.cause}
    try:
        rates = item_error_rates(score)
    except AvcapError as err:  # e.g. a row with no ground-truth events has no rate
        return {**rec, "error": f"{row.id}: {err}"}
    return {**rec, "n_events": score.n_events, "n_missing": score.n_missing, "n_incorrect": score.n_incorrect,
            "n_hallucinated": score.n_hallucinated, **rates, "error": None}


def score_round(rows: Sequence[DatasetRow], round_dir: Path, scorer: Scorer) -> dict[tuple[str, int], dict]:
    """Score every sampled caption not yet scored; returns (id, sample) -> score record."""
    by_id = {row.id: row for row in rows}
    samples = read_samples(round_dir)
    with JsonlAppender(round_dir / "scores.jsonl", key=lambda r: (r["id"], r["sample"]),
                       skip_row=lambda r: r.get("error") is not None) as out:
        todo = [(by_id[i], k, c) for i, caps in samples.items() if i in by_id for k, c in enumerate(caps)
                if (i, k) not in out.done]
        for start in range(0, len(todo), SCORE_CHUNK):
            chunk = todo[start : start + SCORE_CHUNK]
            scores = scorer([row for row, _, _ in chunk], [caption for _, _, caption in chunk])
            if len(scores) != len(chunk):
                raise AvcapError(f"scorer returned {len(scores)} scores for {len(chunk)} captions")
            for (row, k, caption), score in zip(chunk, scores):
                out.append(_score_record(row, k, caption, score))
        return dict(out.rows)


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def select_round(rows: Sequence[DatasetRow], round_dir: Path, scores: dict[tuple[str, int], dict], round_index: int,
                 thresholds: tuple[float, float], max_miss_rise: float | None = None) -> tuple[list[dict], dict]:
    """Pick at most one pair per video; write ``pairs.jsonl`` and ``pair_stats.json``.

    ``max_miss_rise``: :func:`avcap.metrics.pairs.select_pair`'s guard against pairs whose chosen
    caption wins by saying less (None: the paper's rule)."""
    per_video: dict[str, list[dict]] = {}
    failures = []
    for rec in scores.values():
        if rec.get("error") is None:
            per_video.setdefault(rec["id"], []).append(rec)
        else:
            failures.append(rec["error"])
    pairs, deltas_e, deltas_r = [], [], []
    empty = 0
    for row in rows:
        recs = sorted(per_video.get(row.id, []), key=lambda r: r["sample"])
        # An empty sample is no caption: it misses every event but hallucinates none, so it can
        # out-score a garbled one, yet it cannot be a DPO answer. It never enters a pair.
        nonempty = [r for r in recs if (r.get("caption") or "").strip()]
        empty += len(recs) - len(nonempty)
        recs = nonempty
        if len(recs) < 2:
            continue
        picked = select_pair([(r["total"], r["repetition"]) for r in recs], round_index, thresholds,
                             misses=[r["miss"] for r in recs], max_miss_rise=max_miss_rise)
        if picked is None:
            continue
        chosen, rejected = recs[picked[0]], recs[picked[1]]
        delta_e, delta_r = rejected["total"] - chosen["total"], rejected["repetition"] - chosen["repetition"]
        deltas_e.append(delta_e)
        deltas_r.append(delta_r)
        keep = ("total", "miss", "hall", "repetition", "sample")
        raw = {k: v for k, v in row.raw.items() if k not in ("chosen", "rejected", "scores")}
        if isinstance(raw.get("conversations"), list):  # an official DPO row: keep prompt + ground truth only
            raw["conversations"] = _prompt_and_reference(raw["conversations"], row.reference)
        pairs.append({**raw, "id": row.id, "video": row.video, "audio": row.audio,
                      "chosen": chosen["caption"], "rejected": rejected["caption"],
                      "scores": {"chosen": {k: chosen[k] for k in keep}, "rejected": {k: rejected[k] for k in keep},
                                 "delta_e": delta_e, "delta_r": delta_r, "round": round_index}})
    scored = [r for recs in per_video.values() for r in recs]
    stats = {
        "round": round_index,
        "thresholds": {"delta_e": thresholds[0], "delta_r": thresholds[1], "max_miss_rise": max_miss_rise},
        "videos": len(rows),
        "videos_sampled": len(read_samples(round_dir)),
        "captions_scored": len(scored),
        "captions_failed": len(failures),
        "captions_empty": empty,
        "failure_examples": failures[:5],
        "pairs": len(pairs),
        "pair_rate": len(pairs) / len(rows) if rows else 0.0,
        "mean_total_error": _mean([r["total"] for r in scored]),
        "mean_miss": _mean([r["miss"] for r in scored]),
        "mean_hall": _mean([r["hall"] for r in scored]),
        "mean_repetition": _mean([r["repetition"] for r in scored]),
        "mean_chosen_total": _mean([p["scores"]["chosen"]["total"] for p in pairs]),
        "mean_rejected_total": _mean([p["scores"]["rejected"]["total"] for p in pairs]),
        "mean_delta_e": _mean(deltas_e),
        "mean_delta_r": _mean(deltas_r),
    }
    atomic_write_text(round_dir / "pairs.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    atomic_write_json(round_dir / "pair_stats.json", stats)
    return pairs, stats


def _prompt_and_reference(turns: list, reference: str | None) -> list:
    """The human/system turns of a row and its ground truth as the gpt turn: a new pair row carries
    its pair in 'chosen'/'rejected', so the official DPO roles (chosen, reject, reject_gpt, gt) go."""
    from avcap.data.official import HUMAN_ROLES

    kept = [t for t in turns if isinstance(t, dict) and str(t.get("from", t.get("role", ""))).lower()
            in HUMAN_ROLES | {"system"}]
    return kept + ([{"from": "gpt", "value": reference}] if reference else [])
