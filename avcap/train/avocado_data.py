"""AVoCaDO's data stages: checklists of ground-truth captions (§3.2.2) and caption fusion (§3.1).

* :func:`make_checklists` -- per row, the judge decomposes the ground-truth caption into
  keypoints over the five dimensions (Fig. 13; prompt ``checklist.keypoints``); validated (at
  least one keypoint, each with one of the five dimensions; repeats noted) and written one JSONL
  row per clip, which ``avcap train grpo --rewards.checklists`` reads.
* :func:`fuse_captions` -- per clip a visual caption and an audio caption (given, or made by an
  avcap captioner from the muted video and from the sound alone) fused by a judge backend into
  one temporally ordered audio-visual caption (``avocado.fuse``), then scored 1-5 for
  completeness (``avocado.fuse_score``); kept when the score is >= ``min_score`` (paper: 4).

Both are resumable (append-only JSONL keyed by row id; rows recorded with an error are asked
again), judge answers are cached in SQLite, and a row that fails is one line with its cause
while the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avcap.data import DatasetRow, JsonlAppender
from avcap.metrics.checklist import CHECKLIST_DIMENSIONS, canonical_dimension

log = logging.getLogger("avcap.data")


@dataclass
class JudgeSetup:
    backend: str = "openai"
    model: str | None = None
    base_url: str | None = None
    cache: str | None = None
    concurrency: int = 16

    def judge(self, default_cache: Path):
        from avcap.judge.cache import JudgeCache
        from avcap.judge.engine import Judge, JudgeConfig
        from avcap.judge.registry import BackendOptions, create_backend

        backend = create_backend(self.backend, BackendOptions(model=self.model, base_url=self.base_url))
        path = Path(self.cache) if self.cache else default_cache
        path.parent.mkdir(parents=True, exist_ok=True)
        return Judge(backend, JudgeCache(path), JudgeConfig(concurrency=self.concurrency))


@dataclass
class StageSummary:
    done: int = 0  # rows written this run (kept or, for fusion, scored below the bar)
    skipped: int = 0  # rows already in the output
    failed: list[str] = field(default_factory=list)  # one line per failed row
    kept: int = 0  # fusion: rows at or above min_score


def validate_keypoints(items: Sequence[tuple[str, str]]) -> tuple[list[dict], list[str]]:
    """Keypoints with one of the five dimensions (others dropped, repeats noted); returns (kept, notes)."""
    kept, notes, seen = [], [], set()
    unknown = 0
    for dim, text in items:
        name = canonical_dimension(dim) if dim and dim != "unspecified" else None
        if name not in CHECKLIST_DIMENSIONS:
            unknown += 1
            continue
        key = " ".join(text.lower().split())
        if key in seen:  # kept: the same happening twice ("a beep sounds" at two times) is two facts
            notes.append(f"repeated keypoint: {text}")
        seen.add(key)
        kept.append({"dimension": name, "text": text})
    if unknown:
        notes.append(f"{unknown} keypoints without one of the five dimensions dropped")
    return kept, notes


def make_checklists(rows: list[DatasetRow], out_path: str | Path, setup: JudgeSetup) -> StageSummary:
    from avcap.judge import tasks

    summary = StageSummary()
    out_path = Path(out_path)
    with JsonlAppender(out_path, key=lambda r: r["id"], skip_row=lambda r: bool(r.get("error"))) as out:
        todo = [r for r in rows if r.id not in out.done]
        summary.skipped = len(rows) - len(todo)

        async def run():
            judge = setup.judge(out_path.with_name(out_path.stem + ".judge_cache.sqlite"))
            try:
                async def one(row: DatasetRow):
                    if not row.reference:
                        return row, None, "no ground-truth caption"
                    result = await judge.ask(tasks.checklist_keypoints(row.id, row.reference))
                    return row, result, None
                return await asyncio.gather(*(one(r) for r in todo))
            finally:
                await judge.aclose()

        for row, result, cause in asyncio.run(run()) if todo else []:
            record: dict = {"id": row.id}
            if cause is None and not result.ok:
                cause = result.error
            if cause is None:
                keypoints, notes = validate_keypoints(result.value.items)
                record.update(keypoints=keypoints, notes=[*result.value.notes, *notes],
                              n_per_dimension={d: sum(k["dimension"] == d for k in keypoints)
                                               for d in CHECKLIST_DIMENSIONS})
                if not keypoints:
                    cause = "no valid keypoint in the judge's answer"
            if cause:
                record["error"] = cause
                summary.failed.append(f"{row.id}: {cause}")
            else:
                summary.done += 1
            out.append(record)
    return summary


def _caption_missing(rows: list[DatasetRow], have: dict[str, dict[str, str]], captioner_name: str | None,
                     prompts: tuple[str, str], max_new_tokens: int) -> None:
    """Fill ``have[id]['visual' / 'audio']`` with an avcap captioner: muted video / sound alone."""
    import dataclasses

    import numpy as np

    from avcap.models import load_captioner
    from avcap.models.base import GenerationConfig
    from avcap.train.data import load_row_clip

    need = [r for r in rows if not (have[r.id].get("visual") and have[r.id].get("audio"))]
    if not need or captioner_name is None:
        return
    captioner = load_captioner(captioner_name)
    greedy = GenerationConfig(max_new_tokens=max_new_tokens)
    for row in need:
        clip = load_row_clip(row, captioner.frame_policy)
        if not have[row.id].get("visual"):
            have[row.id]["visual"] = captioner.caption([clip.muted()], prompts[0], greedy)[0]
        if not have[row.id].get("audio"):
            sound = dataclasses.replace(clip, frames=clip.frames[:0], frame_times=np.zeros(0, dtype=clip.frame_times.dtype))
            have[row.id]["audio"] = captioner.caption([sound], prompts[1], greedy)[0]


def read_captions(path: str | Path | None) -> dict[str, str]:
    """``{id: caption}`` from a captions JSONL (``avcap caption`` output: rows with id and caption)."""
    import json

    if not path:
        return {}
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("caption") and not row.get("error"):
                out[str(row["id"])] = row["caption"]
    return out


def fuse_captions(rows: list[DatasetRow], out_path: str | Path, setup: JudgeSetup, *,
                  visual: dict[str, str] | None = None, audio: dict[str, str] | None = None,
                  scorer: JudgeSetup | None = None, min_score: int = 4, captioner: str | None = None,
                  visual_prompt: str = "Describe in detail what is seen in the video.",
                  audio_prompt: str = "Describe in detail what is heard: speech word for word, music and sounds.",
                  max_new_tokens: int = 1024) -> StageSummary:
    """See the module docstring; ``scorer`` defaults to the fusing judge (the paper: GPT-4.1)."""
    from avcap.judge import tasks

    summary = StageSummary()
    out_path = Path(out_path)
    with JsonlAppender(out_path, key=lambda r: r["id"], skip_row=lambda r: bool(r.get("error"))) as out:
        todo = [r for r in rows if r.id not in out.done]
        summary.skipped = len(rows) - len(todo)
        have = {r.id: {"visual": (visual or {}).get(r.id) or r.raw.get("visual_caption"),
                       "audio": (audio or {}).get(r.id) or r.raw.get("audio_caption")} for r in todo}
        _caption_missing(todo, have, captioner, (visual_prompt, audio_prompt), max_new_tokens)

        async def run():
            fuser = setup.judge(out_path.with_name(out_path.stem + ".judge_cache.sqlite"))
            grader = fuser if scorer is None else scorer.judge(out_path.with_name(out_path.stem + ".judge_cache.sqlite"))
            try:
                async def one(row: DatasetRow) -> dict:
                    v, a = have[row.id]["visual"], have[row.id]["audio"]
                    record = {"id": row.id, "visual_caption": v, "audio_caption": a}
                    if not v or not a:
                        return {**record, "error": f"no {'visual' if not v else 'audio'} caption "
                                                   "(give one, or --captioner to make it)"}
                    fused = await fuser.ask(tasks.fuse_captions(row.id, v, a))
                    if not fused.ok:
                        return {**record, "error": fused.error}
                    graded = await grader.ask(tasks.fusion_score(row.id, v, a, fused.value.caption))
                    if not graded.ok:
                        return {**record, "caption": fused.value.caption, "error": graded.error}
                    return {**record, "caption": fused.value.caption, "score": graded.value.score,
                            "reason": graded.value.reason, "kept": graded.value.score >= min_score}
                return await asyncio.gather(*(one(r) for r in todo))
            finally:
                await fuser.aclose()
                if grader is not fuser:
                    await grader.aclose()

        for record in asyncio.run(run()) if todo else []:
            if record.get("error"):
                summary.failed.append(f"{record['id']}: {record['error']}")
            else:
                summary.done += 1
                summary.kept += bool(record["kept"])
            out.append(record)
    return summary
