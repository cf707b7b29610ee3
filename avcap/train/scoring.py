"""Caption scorers for MrDPO: ``scorer(rows, captions) -> [EventCounts | ScoreFailure]``.

For each sampled caption a judge counts the ground-truth atomic events it misses or tells
wrongly and the events it hallucinates (video-SALMONN 2 §3.3.1). Three interchangeable
scorers share that signature:

* :class:`JudgeScorer` — an LLM judge backend of :mod:`avcap.judge` (OpenAI-compatible,
  local transformers, scripted), cached in SQLite; events missing from a row are first
  extracted from its ground-truth caption by the same judge;
* :class:`SymbolicScorer` — the synthetic world's exact judge (:mod:`avcap.synth.symbolic`);
* any callable named ``package.module:function`` (tests pass one directly).

A caption whose judgment fails is a :class:`ScoreFailure` with its one-line cause: it is
recorded and left out of pair selection, never silently dropped.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avcap.data import DatasetRow
from avcap.errors import AvcapError, ConfigError
from avcap.metrics.events import EventCounts
from avcap.train.configs import ScorerArgs


@dataclass(frozen=True)
class ScoreFailure:
    cause: str


Score = EventCounts | ScoreFailure
Scorer = Callable[[Sequence[DatasetRow], Sequence[str]], list[Score]]


class JudgeScorer:
    """Counts from an LLM judge (video-SALMONN 2 Appendix F prompt), concurrent and cached."""

    def __init__(self, args: ScorerArgs, cache_path: str | Path):
        self.args = args
        self.cache_path = Path(cache_path)

    def _judge(self):
        from avcap.judge.cache import JudgeCache
        from avcap.judge.engine import Judge, JudgeConfig
        from avcap.judge.registry import BackendOptions, create_backend

        backend = create_backend(self.args.backend, BackendOptions(model=self.args.model, base_url=self.args.base_url))
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return Judge(backend, JudgeCache(self.cache_path), JudgeConfig(concurrency=self.args.concurrency))

    def __call__(self, rows: Sequence[DatasetRow], captions: Sequence[str]) -> list[Score]:
        # A fresh Judge per call: its semaphore belongs to the event loop asyncio.run creates.
        return asyncio.run(self._score(self._judge(), list(rows), list(captions)))

    async def _events(self, judge, row: DatasetRow) -> list[str] | ScoreFailure:
        from avcap.judge import tasks

        if row.events:
            return list(row.events)
        if not row.reference:
            return ScoreFailure(f"{row.id}: row has neither events nor a ground-truth caption")
        result = await judge.ask(tasks.salmonn2_events(row.id, row.reference))
        if not result.ok:
            return ScoreFailure(f"{row.id}: event extraction failed: {result.error}")
        return list(result.value.events)

    async def _score(self, judge, rows: list[DatasetRow], captions: list[str]) -> list[Score]:
        from avcap.judge import tasks

        try:
            unique = {row.id: row for row in rows}
            found = await asyncio.gather(*(self._events(judge, row) for row in unique.values()))
            events = dict(zip(unique, found))

            async def one(row: DatasetRow, caption: str) -> Score:
                gt = events[row.id]
                if isinstance(gt, ScoreFailure):
                    return gt
                result = await judge.ask(tasks.salmonn2_judgment(row.id, caption, gt))
                if not result.ok:
                    return ScoreFailure(f"{row.id}: {result.error}")
                v = result.value
                return EventCounts(v.n_events, len(v.missing), len(v.incorrect), len(v.hallucinated))

            return list(await asyncio.gather(*(one(r, c) for r, c in zip(rows, captions))))
        finally:
            await judge.aclose()


class SymbolicScorer:
    """Exact counts for videos of the synthetic world (rows carry ``script`` or world-grammar ``events``)."""

    def __call__(self, rows: Sequence[DatasetRow], captions: Sequence[str]) -> list[Score]:
        from avcap.synth.symbolic import judge_caption

        out: list[Score] = []
        for row, caption in zip(rows, captions):
            truth = row.raw.get("script") if row.raw.get("script") is not None else row.events
            if truth is None:
                out.append(ScoreFailure(f"{row.id}: symbolic judging needs a 'script' or 'events'"))
                continue
            try:
                j = judge_caption(truth, caption)
            except AvcapError as err:
                out.append(ScoreFailure(f"{row.id}: {err}"))
                continue
            out.append(EventCounts(j.n_events, len(j.missing), len(j.incorrect), len(j.hallucinated)))
        return out


def make_scorer(args: ScorerArgs, output_dir: str | Path) -> Scorer:
    """The scorer ``args`` names (see the module docstring)."""
    if args.kind == "judge":
        return JudgeScorer(args, args.cache or Path(output_dir) / "judge_cache.sqlite")
    if args.kind == "symbolic":
        return SymbolicScorer()
    return import_callable(args.kind, "scorer.kind", "judge, symbolic")


def import_callable(spec: str, field_name: str, builtins: str) -> Callable:
    """The function a config's ``package.module:function`` names (a user's own scorer or reward);
    one ConfigError naming ``field_name`` when it is not such a name, cannot be imported or is not
    callable (``builtins``: the field's other choices, for the message)."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        raise ConfigError(f"{field_name} {spec!r}: expected {builtins} or package.module:function")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"{field_name} {spec!r} cannot be imported: {err}") from None
    if not callable(fn):
        raise ConfigError(f"{field_name} {spec!r} is not callable")
    return fn
