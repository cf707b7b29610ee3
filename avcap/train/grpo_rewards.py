"""AVoCaDO's GRPO reward, R = R_C + R_D + R_L (§3.2, eq. 9), for a batch of sampled captions.

* R_C (eq. 3): the ground truth's checklist keypoints (five dimensions, Fig. 13) -- read from an
  ``avcap data checklist`` file or decomposed by the judge on first use -- and the judge's list of
  those the caption states correctly (Fig. 14): :func:`avcap.metrics.checklist.checklist_reward`.
* R_D (eqs. 4-7): the dialogue of the ground truth and of the caption extracted by the judge
  (Fig. 15), aligned by content (γ = 0.6), speakers of the aligned lines checked by the judge
  (Fig. 16): :func:`avcap.metrics.dialogue.dialogue_f1`.
* R_L (eq. 8): the caption's token count: :func:`avcap.metrics.length.length_reward`.

Every judge question goes through :class:`avcap.judge.engine.Judge` -- concurrent, SQLite-cached
(a re-run asks nothing it asked before), retried -- and a failed one makes that caption's reward
``None`` with its cause: the caller leaves it out of the group (advantage 0) instead of guessing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avcap.data import DatasetRow
from avcap.metrics.checklist import checklist_reward
from avcap.metrics.dialogue import align_dialogues, dialogue_f1
from avcap.metrics.length import length_reward
from avcap.train.configs import RewardArgs
from avcap.train.scoring import import_callable

log = logging.getLogger("avcap.train")


@dataclass
class Reward:
    """One caption's reward and its terms (None: the term is off or its judgment failed)."""

    total: float | None
    checklist: float | None = None
    dialogue: float | None = None
    length: float | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"reward": self.total, "checklist": self.checklist, "dialogue": self.dialogue,
                "length": self.length, "error": self.error}


RewardFn = Callable[[Sequence[DatasetRow], Sequence[str], Sequence[int]], list[Reward]]


def read_checklists(path: str | Path) -> dict[str, list[tuple[str, str]]]:
    """``{row id: [(dimension, keypoint), ...]}`` from an ``avcap data checklist`` file (rows with an error skipped)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("keypoints") and not row.get("error"):
                out[row["id"]] = [(k["dimension"], k["text"]) for k in row["keypoints"]]
    return out


@dataclass
class JudgeRewards:
    """R = R_C + R_D + R_L with an LLM judge backend (or ``symbolic`` in the synthetic world)."""

    args: RewardArgs
    cache_path: Path
    checklists: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def _judge(self):
        from avcap.judge.cache import JudgeCache
        from avcap.judge.engine import Judge, JudgeConfig
        from avcap.judge.registry import BackendOptions, create_backend

        backend = create_backend(self.args.backend, BackendOptions(model=self.args.model, base_url=self.args.base_url))
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return Judge(backend, JudgeCache(self.cache_path), JudgeConfig(concurrency=self.args.concurrency))

    def __call__(self, rows: Sequence[DatasetRow], captions: Sequence[str], n_tokens: Sequence[int]) -> list[Reward]:
        # A fresh Judge per call: its semaphore belongs to the event loop asyncio.run creates.
        return asyncio.run(self._all(self._judge(), list(rows), list(captions), list(n_tokens)))

    async def _keypoints(self, judge, row: DatasetRow) -> list[tuple[str, str]] | str:
        from avcap.judge import tasks

        if row.id in self.checklists:
            return self.checklists[row.id]
        if not row.reference:
            return f"{row.id}: no ground-truth caption to make a checklist from"
        result = await judge.ask(tasks.checklist_keypoints(row.id, row.reference))
        if not result.ok:
            return f"{row.id}: checklist: {result.error}"
        if not result.value.items:
            return f"{row.id}: the judge found no keypoint in the ground truth"
        return list(result.value.items)

    async def _dialogue(self, judge, item: str, text: str) -> list[tuple[str, str]] | str:
        from avcap.judge import tasks

        result = await judge.ask(tasks.dialogue_extraction(item, text))
        return list(result.value.turns) if result.ok else f"{item}: dialogue: {result.error}"

    async def _all(self, judge, rows: list[DatasetRow], captions: list[str], n_tokens: list[int]) -> list[Reward]:
        try:
            unique = {row.id: row for row in rows}
            keypoints: dict[str, list | str] = {}
            gt_dialogue: dict[str, list | str] = {}
            if self.args.checklist:
                found = await asyncio.gather(*(self._keypoints(judge, r) for r in unique.values()))
                keypoints = dict(zip(unique, found))
            if self.args.dialogue:
                found = await asyncio.gather(*(self._dialogue(judge, r.id, r.reference or "") for r in unique.values()))
                gt_dialogue = dict(zip(unique, found))
            return list(await asyncio.gather(*(
                self._one(judge, row, caption, n, keypoints.get(row.id), gt_dialogue.get(row.id))
                for row, caption, n in zip(rows, captions, n_tokens))))
        finally:
            await judge.aclose()

    async def _one(self, judge, row: DatasetRow, caption: str, n_tokens: int, keypoints, gt_dialogue) -> Reward:
        from avcap.judge import tasks

        out = Reward(total=None)
        errors: list[str] = []
        if self.args.checklist:
            if isinstance(keypoints, str):
                errors.append(keypoints)
            else:
                result = await judge.ask(tasks.checklist_judgment(row.id, caption, [t for _, t in keypoints]))
                if result.ok:
                    out.checklist = checklist_reward(len(result.value.correct), len(keypoints))
                else:
                    errors.append(f"{row.id}: checklist judgment: {result.error}")
        if self.args.dialogue:
            if isinstance(gt_dialogue, str):
                errors.append(gt_dialogue)
            else:
                gen = await self._dialogue(judge, row.id, caption)
                if isinstance(gen, str):
                    errors.append(gen)
                else:
                    verdict = await self._speakers(judge, row, caption, gt_dialogue, gen)
                    if isinstance(verdict, str):
                        errors.append(verdict)
                    else:
                        out.dialogue = dialogue_f1(gt_dialogue, gen, self.args.dialogue_threshold, verdict)["f1"]
        if self.args.length:
            out.length = length_reward(n_tokens, self.args.length_soft, self.args.length_hard)
        if errors:
            out.error = "; ".join(errors)
            return out
        out.total = sum(v for v in (out.checklist, out.dialogue, out.length) if v is not None)
        return out

    async def _speakers(self, judge, row: DatasetRow, caption: str, ref: list, gen: list) -> dict | str:
        """The judge's same-speaker verdict for each content-aligned pair (Fig. 16), as dialogue_f1 takes it."""
        from avcap.judge import tasks

        pairs = align_dialogues(ref, gen, self.args.dialogue_threshold)
        if not pairs:
            return {}
        result = await judge.ask(tasks.speaker_consistency(
            row.id, row.reference or "", caption, [(ref[j], gen[i]) for j, i, _ in pairs]))
        if not result.ok:
            return f"{row.id}: speakers: {result.error}"
        return {(j, i): same for (j, i, _), same in zip(pairs, result.value.same)}


def _imported(kind: str) -> RewardFn:
    fn = import_callable(kind, "rewards.kind", "judge")

    def rewards(rows, captions, n_tokens) -> list[Reward]:
        values = fn(rows, captions, n_tokens)
        return [v if isinstance(v, Reward) else Reward(None if v is None else float(v),
                                                       error=None if v is not None else "no reward")
                for v in values]

    return rewards


def make_rewards(args: RewardArgs, output_dir: str | Path) -> RewardFn:
    """The reward function ``args`` names (see the module docstring)."""
    if args.kind != "judge":
        return _imported(args.kind)
    checklists = read_checklists(args.checklists) if args.checklists else {}
    return JudgeRewards(args, Path(args.cache or Path(output_dir) / "judge_cache.sqlite"), checklists)
