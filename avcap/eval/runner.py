"""Evaluate caption files on a benchmark: every (caption file, metric, item) is one unit of work.

All units start at once; the judge's semaphore bounds the calls in flight, its cache makes
a re-run free, and shared questions (a reference's events, asked for by several caption
files) are asked once. Units never raise: a failure becomes a record with its cause.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from avcap.errors import AvcapError, ConfigError
from avcap.eval.captions import CaptionSet
from avcap.eval.loaders import Benchmark
from avcap.eval.scorers import SCORERS
from avcap.eval.scorers.base import ItemContext, ItemFailed, failed
from avcap.judge import Judge, Judgment


@dataclass
class EvalConfig:
    """What to measure."""

    metrics: tuple[str, ...] = ("salmonn2",)  # any of avcap.eval.scorers.SCORERS
    judge_runs: int = 1  # video-SALMONN 2 protocol: N judge runs, median reported (the paper uses 7)
    dialogue_threshold: float = 0.6  # AVoCaDO's γ for the content alignment

    def __post_init__(self) -> None:
        self.metrics = tuple(dict.fromkeys(m.strip() for m in self.metrics if m.strip()))
        if not self.metrics:
            raise ConfigError("no metrics given")
        unknown = [m for m in self.metrics if m not in SCORERS]
        if unknown:
            raise ConfigError(f"unknown metric {unknown[0]!r}; choose from: {', '.join(SCORERS)}")
        if self.judge_runs < 1:
            raise ConfigError("judge_runs must be >= 1")
        if not 0 < self.dialogue_threshold <= 1:
            raise ConfigError("dialogue_threshold must be in (0, 1]")

    @property
    def needs_judge(self) -> bool:
        return any(SCORERS[m].JUDGED for m in self.metrics)


@dataclass
class Unit:
    item_id: str
    video: str | None
    row: object | None  # DatasetRow
    qa: object | None  # QAItem


@dataclass
class EvalResult:
    # records[set name][metric][item id] -> record (JSON-able)
    records: dict[str, dict[str, dict[str, dict]]]
    # unique judgments used: cache key -> (prompt tokens, completion tokens)
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)


def metric_units(bench: Benchmark, metric: str) -> list[Unit]:
    kind = SCORERS[metric].ITEMS
    if kind == "qa":
        return [Unit(q.id, q.video_key, None, q) for q in bench.qa]
    if kind == "any" and not bench.rows:
        seen = dict.fromkeys(q.video_key for q in bench.qa)  # one caption per video
        return [Unit(v, v, None, None) for v in seen]
    return [Unit(r.id, r.video, r, None) for r in bench.rows]


def check_applicable(bench: Benchmark, config: EvalConfig) -> None:
    for metric in config.metrics:
        if not metric_units(bench, metric):
            need = "multiple-choice questions" if SCORERS[metric].ITEMS == "qa" else "rows with a reference caption or events"
            raise ConfigError(f"metric {metric!r} needs {need}; {bench.path} ({bench.format} format) has none")


def count_units(bench: Benchmark, sets: list[CaptionSet], config: EvalConfig) -> int:
    return len(sets) * sum(len(metric_units(bench, m)) for m in config.metrics)


async def run_eval(
    bench: Benchmark,
    sets: list[CaptionSet],
    judge: Judge | None,
    config: EvalConfig,
    on_unit_done: Callable[[], None] | None = None,
) -> EvalResult:
    check_applicable(bench, config)
    if config.needs_judge and judge is None:
        raise ConfigError(f"metrics {', '.join(m for m in config.metrics if SCORERS[m].JUDGED)} need a judge")
    result = EvalResult({s.name: {m: {} for m in config.metrics} for s in sets})

    def note(judgment: Judgment) -> None:
        result.tokens[judgment.key] = (judgment.prompt_tokens, judgment.completion_tokens)

    async def one(cset: CaptionSet, metric: str, unit: Unit) -> None:
        result.records[cset.name][metric][unit.item_id] = await _score_unit(cset, metric, unit, judge, config, note)
        if on_unit_done is not None:
            on_unit_done()

    await asyncio.gather(*(
        one(cset, metric, unit) for cset in sets for metric in config.metrics for unit in metric_units(bench, metric)
    ))
    return result


async def _score_unit(cset, metric, unit, judge, config, note) -> dict:
    caption_row = cset.lookup(unit.item_id, unit.video)
    if caption_row is None:
        return {"status": "caption_failed", "error": "no caption for this item in the captions file"}
    if caption_row.error is not None:
        return {"status": "caption_failed", "error": " ".join(caption_row.error.split())}
    ctx = ItemContext(unit.item_id, caption_row.caption or "", unit.row, unit.qa, judge,
                      config.judge_runs, config.dialogue_threshold, note)
    try:
        return await SCORERS[metric].score(ctx)
    except ItemFailed as err:
        return failed(str(err))
    except AvcapError as err:  # e.g. a metric refusing its input: this item fails, the run goes on
        return failed(f"{type(err).__name__}: {err}")
