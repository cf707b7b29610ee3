"""Tarsier2's preference candidates: caption the clean clip and a corrupted clip, score both with AutoDQ.

Per training video (Tarsier2 §3.3, Appendix D): the policy samples a caption y of the clean
clip x, one corruption is drawn (clip-switching, clip-reversing, clip-cropping, down-sampling;
:mod:`avcap.media.corrupt`) and the policy samples ỹ of the corrupted clip x̃; both are sampled
with top-p 0.7 and temperature 0.7. With ``second_sample`` a second caption y' of the *clean*
clip is sampled too, for the paper's "w/o negative sampling" ablation. Each caption is then
scored with AutoDQ against the video's reference (:mod:`avcap.train.autodq_scoring`), and
eq. 1's filter is recorded. The corrupted clip only *generates* ỹ: training scores y and ỹ on
the clean clip (:mod:`avcap.train.recipes.negdpo`).

Only the frames are corrupted, as in the paper (Tarsier2 has no audio); an audio-visual
captioner keeps hearing the video's own sound track.

Files, both append-only JSONL keyed by ``id`` (a killed run loses at most one batch)::

    pairs.samples.jsonl   per video: the sampled captions, the corruption (kind, seed, parameters,
                          frame times), the generation settings; or an error row
    pairs.jsonl           per video: the dataset row + "candidates", "autodq", "corruption",
                          "filter"; or an error row
    pairs.stats.json      :func:`avcap.train.negpairs.pair_statistics` and the failure counts

A re-run samples only videos without a sample row and scores only sampled videos without a
pairs row, so nothing is sampled or judged twice (a judge's answers are cached too). Error rows
(an unreadable video, a failed judgment) are dropped at start-up (an atomic rewrite) and
retried; a failed judgment is retried from the stored captions, without sampling again.
"""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avcap.data import DatasetRow, JsonlAppender, atomic_write_json, atomic_write_text, iter_jsonl
from avcap.errors import AvcapError, ConfigError
from avcap.media.corrupt import CROP_MODES, Corruption, corrupt, draw_kind
from avcap.metrics.autodq import TARSIER2_DELTA, autodq_deltas, keep_preference_pair
from avcap.models.base import DEFAULT_PROMPT, GenerationConfig
from avcap.train.negpairs import RESERVED
from avcap.train.scoring import ScoreFailure

SCORE_CHUNK = 32  # videos per scorer call: progress is saved between calls
CANDIDATES = ("clean", "corrupted", "clean_2")  # y, ỹ, and y' (the second clean sample)


@dataclass
class NegativeSamplingArgs:
    """How the candidates are sampled (defaults: Tarsier2 Appendix D and its release)."""

    temperature: float = 0.7
    top_p: float = 0.7
    max_new_tokens: int = 512  # the release's generation limit
    crop: str = "release"  # "release": ~3/4 of the span (default, the published code); "paper": half
    second_sample: bool = False  # also y' of the clean clip, for the "w/o negative sampling" ablation
    batch_size: int = 8
    seed: int = 0
    prompt: str | None = None  # overrides the rows' prompts and the model's default
    frames: str | None = None  # sampling policy; None = the captioner's own
    delta: float = TARSIER2_DELTA  # the filter threshold recorded in each row (training may choose another)

    def __post_init__(self) -> None:
        if self.crop not in CROP_MODES:
            raise ConfigError(f"crop must be one of {', '.join(CROP_MODES)}, got {self.crop!r}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.temperature > 0:
            raise ConfigError("negative sampling samples: temperature must be > 0")
        try:
            GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if self.prompt is not None and not self.prompt.strip():
            raise ConfigError("prompt must not be empty")

    def settings(self) -> dict:
        """What must not change between a run and its resumption."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens,
                "crop": self.crop, "second_sample": self.second_sample, "seed": self.seed,
                "prompt": self.prompt, "frames": self.frames}


def side_paths(out: str | Path) -> tuple[Path, Path]:
    """``pairs.jsonl`` -> (``pairs.samples.jsonl``, ``pairs.stats.json``)."""
    out = Path(out)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(f"{stem}.samples.jsonl"), out.with_name(f"{stem}.stats.json")


def corruption_seed(seed: int, row_id: str) -> int:
    """A per-video seed that does not depend on batching or on the order of the rows."""
    return zlib.crc32(f"{seed}:{row_id}".encode()) & 0x7FFFFFFF


def draw_corruption(times: Sequence[float], seed: int, row_id: str, crop: str) -> Corruption:
    """The video's corruption: the kind drawn uniformly, then its parameters, from one seed."""
    cseed = corruption_seed(seed, row_id)
    return corrupt(list(times), draw_kind(cseed), cseed, crop=crop)


def corrupted_clip(clean, corruption: Corruption, row: DatasetRow, policy):
    """x̃: the clean clip's frames reordered / dropped, or (crop) decoded at the new times."""
    if corruption.indices is not None:
        idx = np.asarray(corruption.indices, dtype=np.int64)
        meta = {**clean.meta, "corruption": corruption.kind}
        return dataclasses.replace(clean, frames=clean.frames[idx], frame_times=clean.frame_times[idx], meta=meta)
    from avcap.media import load_clip

    clip = load_clip(row.video, policy=policy, audio_path=row.audio, frame_times=corruption.times)
    clip.meta["corruption"] = corruption.kind
    return clip


def _one_line(err: BaseException) -> str:
    text = str(err) if isinstance(err, AvcapError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:500] or type(err).__name__


def _check_same(path: Path, rows: dict, key: str, expected) -> None:
    for row in rows.values():
        if row.get(key) != expected:
            raise ConfigError(f"{path} was made with {key} {row.get(key)!r}, not {expected!r}; "
                              "resume with the same settings or choose another --out")


@dataclass
class SampleSummary:
    sampled: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def sample_candidates(captioner, rows: Sequence[DatasetRow], samples_path: Path, args: NegativeSamplingArgs,
                      progress=None) -> SampleSummary:
    """Sample y (and y') of each clean clip and ỹ of its corrupted clip; see the module docstring."""
    import torch

    from avcap.media import get_policy
    from avcap.train.data import load_row_clip

    policy = get_policy(args.frames or captioner.frame_policy)
    default_prompt = args.prompt or getattr(captioner, "default_prompt", None) or DEFAULT_PROMPT
    position = {row.id: i for i, row in enumerate(rows)}  # generation seeds follow the row, not the batch
    summary = SampleSummary()
    model = getattr(captioner, "model", None)
    if model is not None:
        model.eval()
    drop_error_rows(samples_path)
    with JsonlAppender(samples_path, key=lambda r: r["id"]) as out:
        _check_same(samples_path, out.rows, "model", captioner.name)
        _check_same(samples_path, out.rows, "settings", args.settings())
        todo = [row for row in rows if row.id not in out.done]
        summary.skipped = len(rows) - len(todo)

        def fail(row: DatasetRow, cause: str) -> None:
            out.append({"id": row.id, "error": cause, "stage": "sample"})
            summary.failed += 1
            summary.failures.append(cause)

        for start in range(0, len(todo), args.batch_size):
            ready = []
            for row in todo[start:start + args.batch_size]:
                try:
                    if row.video is None:
                        raise ConfigError(f"{row.id}: negative sampling corrupts frames; the row has no video")
                    clean = load_row_clip(row, policy)
                    corruption = draw_corruption(clean.frame_times.tolist(), args.seed, row.id, args.crop)
                    ready.append((row, clean, corruption, corrupted_clip(clean, corruption, row, policy)))
                except Exception as err:  # a bad video must not stop the run
                    fail(row, f"{row.id}: {_one_line(err)}")
            for prompt in dict.fromkeys(args.prompt or row.prompt or default_prompt for row, *_ in ready):
                group = [r for r in ready if (args.prompt or r[0].prompt or default_prompt) == prompt]
                _sample_group(captioner, group, prompt, args, position, out, fail, torch)
            if progress is not None:
                progress(len(todo[start:start + args.batch_size]))
        summary.sampled = len(todo) - summary.failed
    return summary


def _sample_group(captioner, group, prompt: str, args: NegativeSamplingArgs, position: dict, out, fail, torch) -> None:
    """Generate one prompt's batch; if the batch fails, retry video by video so only the bad one fails."""
    if not group:
        return
    seed = args.seed + position[group[0][0].id]
    k = 2 if args.second_sample else 1
    clean_gen = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                                 num_samples=k, seed=seed)
    # Its own random stream: ỹ differs from y by its input, not by sharing y's sampling noise.
    neg_gen = dataclasses.replace(clean_gen, num_samples=1, seed=seed + 1_000_003)
    try:
        with torch.no_grad():
            clean_caps = captioner.caption([clean for _, clean, _, _ in group], prompt, clean_gen)
            neg_caps = captioner.caption([bad for _, _, _, bad in group], prompt, neg_gen)
        if len(clean_caps) != k * len(group) or len(neg_caps) != len(group):
            raise AvcapError(f"captioner returned {len(clean_caps)} + {len(neg_caps)} captions "
                             f"for {len(group)} videos")
    except Exception as err:
        if len(group) == 1:
            fail(group[0][0], f"{group[0][0].id}: generation failed: {_one_line(err)}")
            return
        for one in group:
            _sample_group(captioner, [one], prompt, args, position, out, fail, torch)
        return
    for i, (row, clean, corruption, _) in enumerate(group):
        captions = {"clean": clean_caps[i * k], "corrupted": neg_caps[i]}
        if args.second_sample:
            captions["clean_2"] = clean_caps[i * k + 1]
        out.append({"id": row.id, "candidates": captions, "corruption": corruption.to_dict(),
                    "clean_frame_times": [round(float(t), 6) for t in clean.frame_times],
                    "prompt": prompt, "seeds": {"clean": clean_gen.seed, "corrupted": neg_gen.seed},
                    "model": captioner.name, "settings": args.settings(), "error": None})


def read_samples(samples_path: Path) -> dict[str, dict]:
    """id -> the sample row (rows with an error are left out)."""
    if not samples_path.exists():
        return {}
    return {rec["id"]: rec for _, rec in iter_jsonl(samples_path) if rec.get("error") is None}


def drop_error_rows(path: Path) -> int:
    """Rewrite ``path`` without its error rows (atomically) so they are retried; returns how many."""
    if not path.exists():
        return 0
    rows = [row for _, row in iter_jsonl(path)]
    kept = [row for row in rows if row.get("error") is None]
    if len(kept) != len(rows):
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return len(rows) - len(kept)


def filter_record(scores: dict[str, dict], captions: dict[str, str], rejected: str, delta: float) -> dict:
    """ΔP, ΔR of y over the ``rejected`` candidate and eq. 1's verdict (an empty caption is never kept)."""
    chosen = scores["clean"]
    other = scores[rejected]
    dp, dr = autodq_deltas((chosen["precision"], chosen["recall"]), (other["precision"], other["recall"]))
    empty = not captions["clean"].strip() or not captions[rejected].strip()
    return {"delta_p": dp, "delta_r": dr, "kept": (not empty) and keep_preference_pair(dp, dr, delta),
            **({"empty": True} if empty else {})}


def score_candidates(rows: Sequence[DatasetRow], samples_path: Path, out_path: Path, scorer, judge_name: str,
                     delta: float = TARSIER2_DELTA, progress=None) -> tuple[int, int]:
    """Score every sampled, not yet scored video; returns (scored now, failed now)."""
    samples = read_samples(samples_path)
    drop_error_rows(out_path)
    scored = failed = 0
    with JsonlAppender(out_path, key=lambda r: r["id"]) as out:
        _check_same(out_path, out.rows, "judge", judge_name)
        todo = [row for row in rows if row.id in samples and row.id not in out.done]
        for start in range(0, len(todo), SCORE_CHUNK):
            chunk = todo[start:start + SCORE_CHUNK]
            flat = [(row, name, samples[row.id]["candidates"][name]) for row in chunk for name in CANDIDATES
                    if name in samples[row.id]["candidates"]]
            results = scorer([row for row, _, _ in flat], [caption for _, _, caption in flat])
            if len(results) != len(flat):
                raise AvcapError(f"AutoDQ scorer returned {len(results)} scores for {len(flat)} captions")
            by_row: dict[str, dict] = {}
            for (row, name, _), result in zip(flat, results):
                by_row.setdefault(row.id, {})[name] = result
            for row in chunk:
                record = _pairs_row(row, samples[row.id], by_row[row.id], judge_name, delta)
                out.append(record)
                failed += record.get("error") is not None
                scored += record.get("error") is None
            if progress is not None:
                progress(len(chunk))
    return scored, failed


def _pairs_row(row: DatasetRow, sample: dict, results: dict, judge_name: str, delta: float) -> dict:
    bad = [r.cause for r in results.values() if isinstance(r, ScoreFailure)]
    if bad:
        return {"id": row.id, "error": bad[0], "stage": "judge", "judge": judge_name}
    scores = {name: {"precision": p, "recall": r} for name, (p, r) in results.items()}
    captions = sample["candidates"]
    filters = {"delta": delta, "negative": filter_record(scores, captions, "corrupted", delta)}
    if "clean_2" in captions:
        filters["second"] = filter_record(scores, captions, "clean_2", delta)
    raw = {k: v for k, v in row.raw.items() if k not in RESERVED and k not in ("sampling", "chosen", "rejected", "scores")}
    return {**raw, "id": row.id, "video": row.video, "audio": row.audio, "candidates": captions,
            "corruption": sample["corruption"], "autodq": scores, "filter": filters, "model": sample["model"],
            "sampling": {"prompt": sample["prompt"], "seeds": sample["seeds"], **sample["settings"]},
            "judge": judge_name, "error": None}


def read_pairs(out_path: Path) -> tuple[list[dict], list[dict]]:
    """(scored rows, error rows) of a pairs file."""
    ok, errors = [], []
    for _, rec in iter_jsonl(out_path):
        (errors if rec.get("error") is not None else ok).append(rec)
    return ok, errors


def write_stats(out_path: Path, samples_path: Path, stats_path: Path, n_videos: int, delta: float, crop: str) -> dict:
    """The pairs file's statistics plus what failed (from the files, so a resumed run counts all)."""
    from avcap.train.negpairs import pair_statistics

    ok, errors = read_pairs(out_path) if out_path.exists() else ([], [])
    sample_failures = ([rec["error"] for _, rec in iter_jsonl(samples_path) if rec.get("error") is not None]
                       if samples_path.exists() else [])
    stats = pair_statistics(ok, delta)
    stats.update({"videos": n_videos, "crop": crop, "failed_sampling": len(sample_failures),
                  "failed_judging": len(errors),
                  "failures": (sample_failures + [e["error"] for e in errors])[:100],
                  "written": time.strftime("%Y-%m-%dT%H:%M:%S")})
    atomic_write_json(stats_path, stats)
    return stats
