"""AutoDQ scorers for Tarsier2's preference filter: ``scorer(rows, captions) -> [(P, R) | ScoreFailure]``.

Each caption is scored against its row's reference description (Tarsier2 footnote 3): recall
DQ_R = reference events entailed by the caption, precision DQ_P = caption events entailed by
the reference. Three interchangeable scorers, named like MrDPO's (:mod:`avcap.train.scoring`):

* ``symbolic`` -- the synthetic world, exactly: :func:`avcap.synth.symbolic.autodq_counts`
  against the row's ``script`` (or its world-grammar ``events``); no model, no cache needed;
* ``judge`` -- any judge backend of :mod:`avcap.judge` (OpenAI-compatible, local transformers,
  scripted, ...) with avcap's AutoDQ prompts, at most 10 events per description, cached in
  SQLite so a re-run asks nothing twice. Reference events: the row's ``extra_info.events``
  (DREAM-1K) when present, else extracted from the reference by the judge;
* ``package.module:function`` -- any callable with the signature above.

Frame tags (``<frame: i-j>``) are stripped first: AutoDQ compares events, not frame numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from avcap.data import DatasetRow
from avcap.data.grounding import strip_frame_tags
from avcap.errors import AvcapError
from avcap.metrics.autodq import autodq_item
from avcap.train.configs import ScorerArgs
from avcap.train.scoring import ScoreFailure, import_callable

AutoDQResult = tuple[float, float] | ScoreFailure  # (precision, recall)
AutoDQScorer = Callable[[Sequence[DatasetRow], Sequence[str]], list[AutoDQResult]]


class SymbolicAutoDQ:
    """Exact AutoDQ for videos of the synthetic world (rows carry ``script`` or world-grammar ``events``)."""

    name = "symbolic"

    def __call__(self, rows: Sequence[DatasetRow], captions: Sequence[str]) -> list[AutoDQResult]:
        from avcap.synth.symbolic import autodq_counts

        out: list[AutoDQResult] = []
        for row, caption in zip(rows, captions):
            truth = row.raw.get("script") if row.raw.get("script") is not None else row.events
            if truth is None:
                out.append(ScoreFailure(f"{row.id}: symbolic AutoDQ needs a 'script' or 'events'"))
                continue
            try:
                out.append(autodq_item(*autodq_counts(truth, strip_frame_tags(caption))))
            except AvcapError as err:
                out.append(ScoreFailure(f"{row.id}: {err}"))
        return out


def given_events(row: DatasetRow) -> list[str] | None:
    """DREAM-1K's annotated events (``extra_info.events``), as the AutoDQ scorer of ``avcap eval`` uses them."""
    extra = row.raw.get("extra_info") if isinstance(row.raw, dict) else None
    events = extra.get("events") if isinstance(extra, dict) else None
    if isinstance(events, list) and events and all(isinstance(e, str) for e in events):
        return [e.strip() for e in events if e.strip()]
    return None


class JudgeAutoDQ:
    """AutoDQ through an LLM judge backend: event extraction and entailment both ways, cached."""

    def __init__(self, args: ScorerArgs, cache_path: str | Path):
        self.args = args
        self.cache_path = Path(cache_path)
        self.name = f"judge:{args.backend}:{args.model or 'default'}"

    def _judge(self):
        from avcap.judge.cache import JudgeCache
        from avcap.judge.engine import Judge, JudgeConfig
        from avcap.judge.registry import BackendOptions, create_backend

        backend = create_backend(self.args.backend, BackendOptions(model=self.args.model, base_url=self.args.base_url))
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return Judge(backend, JudgeCache(self.cache_path), JudgeConfig(concurrency=self.args.concurrency))

    def __call__(self, rows: Sequence[DatasetRow], captions: Sequence[str]) -> list[AutoDQResult]:
        # A fresh Judge per call: its semaphore belongs to the event loop asyncio.run creates.
        return asyncio.run(self._score(self._judge(), list(rows), [strip_frame_tags(c) for c in captions]))

    async def _ask(self, judge, task, what: str):
        result = await judge.ask(task)
        if not result.ok:
            raise _Failed(f"{task.item}: {what} failed: {result.error}")
        return result.value

    async def _reference_events(self, judge, row: DatasetRow) -> list[str]:
        from avcap.judge import tasks

        events = given_events(row)
        if events is not None:
            return events
        if not row.reference:
            raise _Failed(f"{row.id}: AutoDQ needs the row's reference description (a 'gpt' turn)")
        found = await self._ask(judge, tasks.autodq_events(row.id, row.reference), "reference event extraction")
        return list(found.events)

    async def _entailed(self, judge, item: str, description: str, events: list[str], what: str) -> int:
        from avcap.judge import tasks

        if not events:
            return 0
        labels = await self._ask(judge, tasks.autodq_entailment(item, description, events), what)
        return list(labels.labels).count("entailment")

    async def _score(self, judge, rows: list[DatasetRow], captions: list[str]) -> list[AutoDQResult]:
        from avcap.judge import tasks

        unique = {row.id: row for row in rows}

        async def reference(row):
            try:
                return await self._reference_events(judge, row)
            except _Failed as err:
                return ScoreFailure(str(err))

        try:
            found = await asyncio.gather(*(reference(row) for row in unique.values()))
            ref_events = dict(zip(unique, found))

            async def one(row: DatasetRow, caption: str) -> AutoDQResult:
                ref = ref_events[row.id]
                if isinstance(ref, ScoreFailure):
                    return ref
                try:
                    pred = list((await self._ask(judge, tasks.autodq_events(row.id, caption),
                                                 "caption event extraction")).events)
                    ref_hits, pred_hits = await asyncio.gather(
                        self._entailed(judge, row.id, caption, ref, "recall entailment"),
                        self._entailed(judge, row.id, row.reference or "", pred, "precision entailment"))
                except _Failed as err:
                    return ScoreFailure(str(err))
                return autodq_item(len(ref), ref_hits, len(pred), pred_hits)

            return list(await asyncio.gather(*(one(r, c) for r, c in zip(rows, captions))))
        finally:
            await judge.aclose()


class _Failed(Exception):
    pass


def make_autodq_scorer(args: ScorerArgs, output_dir: str | Path) -> AutoDQScorer:
    """The AutoDQ scorer ``args`` names (see the module docstring)."""
    if args.kind == "symbolic":
        return SymbolicAutoDQ()
    if args.kind == "judge":
        return JudgeAutoDQ(args, args.cache or Path(output_dir) / "judge_cache.sqlite")
    return import_callable(args.kind, "scorer.kind", "judge, symbolic")


def scorer_name(scorer: AutoDQScorer) -> str:
    """What a pairs row records as its judge (a resumed run must use the same one)."""
    name = getattr(scorer, "name", None)
    if isinstance(name, str):
        return name
    return f"{getattr(scorer, '__module__', '?')}:{getattr(scorer, '__qualname__', type(scorer).__name__)}"
