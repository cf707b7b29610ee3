"""video-SALMONN 2 test set: missing / incorrect / hallucinated events per caption, N runs.

Per run, each item is judged with the protocol's retry rule (fresh questions with the next
seed, then the fallback prompt); an item that still fails is dropped from *that* run and
counted (the official rule; variant ``same_items`` drops it from every run). A run's rates
are pooled over its items: Miss = Σmissing / Σevents, Hall = Σ(incorrect + hallucinated) /
Σevents, Total = Miss + Hall (``avcap.metrics.events``).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols.base import Attempt, Context, Table, judge_failed
from avcap.judge import prompts as P
from avcap.judge.prompts import PromptSpec
from avcap.judge.results import EventTally, parse_event_judgment, parse_event_tally
from avcap.judge.tasks import JudgeTask

KEYS = ("miss", "hall", "total")


def _tally(value, events: list[str]) -> EventTally:
    return EventTally.of(parse_event_judgment(value, events))


def _avcap_task(spec: PromptSpec, item: str, caption: str, events: list[str]) -> JudgeTask:
    messages = spec.render(events=P.numbered(events), caption=caption)
    return JudgeTask(spec, tuple(messages), partial(_tally, events=list(events)), item)


def _official_task(official, template, name: str, item: str, caption: str, events: list[str]) -> JudgeTask:
    # The prompt key carries the script's prompt hash: another script version is another cache entry.
    spec = PromptSpec(name=f"salmonn2.official.{name}", version=official.prompt_sha256[:12], system=official.system or "",
                      user=template.text)
    messages = official.messages(template, caption, events, item)
    return JudgeTask(spec, tuple(messages), partial(parse_event_tally, events=list(events)), item)


def tasks_for(ctx: Context, item: BenchItem, caption: str):
    """(main, fallback or None) task builders for one caption."""
    events = list(item.events or [])
    if ctx.official is not None:
        main = partial(_official_task, ctx.official, ctx.official.main, "main", item.id, caption, events)
        fb = None
        if ctx.official.fallback is not None:
            fb = partial(_official_task, ctx.official, ctx.official.fallback, "fallback", item.id, caption, events)
    else:
        main = partial(_avcap_task, P.SALMONN2_JUDGE, item.id, caption, events)
        fb = partial(_avcap_task, P.SALMONN2_JUDGE_FALLBACK, item.id, caption, events)
    return main, (fb if ctx.spec.fallback_prompt else None)


async def score(ctx: Context, item: BenchItem, caption: str, run: int) -> dict:
    main, fallback = tasks_for(ctx, item, caption)
    attempt: Attempt = await ctx.ask(main, run, fallback=fallback)
    if attempt.value is None:
        return judge_failed(attempt)
    t: EventTally = attempt.value
    record = {"status": "ok", "n_events": t.n_events, "n_missing": t.n_missing, "n_incorrect": t.n_incorrect,
              "n_hallucinated": t.n_hallucinated, **attempt.log()}
    if t.missing is not None:
        record["missing"] = list(t.missing)
    if t.incorrect is not None:
        record["incorrect"] = list(t.incorrect)
    if t.hallucinated is not None:
        record["hallucinated"] = list(t.hallucinated)
    if t.notes:
        record["notes"] = list(t.notes)
    return record


def arrays(records: list[list[dict | None]], items: list[BenchItem], runs: int, usable: np.ndarray,
           variant: str | None = None) -> Table:
    n = len(items)
    ok = np.zeros((runs, n), dtype=bool)
    missing = np.zeros((runs, n))
    wrong = np.zeros((runs, n))
    for i, per_run in enumerate(records):
        for r, rec in enumerate(per_run):
            if rec is not None and rec.get("status") == "ok":
                ok[r, i] = True
                missing[r, i] = rec["n_missing"]
                wrong[r, i] = rec["n_incorrect"] + rec["n_hallucinated"]
    n_events = np.asarray([len(it.events or []) for it in items], dtype=np.float64)
    return Table({"missing": missing, "wrong": wrong, "n_events": n_events}, ok, usable)


def compute(table: Table, run: int, idx: np.ndarray, variant: str | None = None) -> dict:
    ok = table.ok[:, idx].all(axis=0) if variant == "same_items" else table.ok[run, idx]
    kept = idx[ok]
    events = table.values["n_events"][kept].sum()
    if events <= 0:
        return {"miss": float("nan"), "hall": float("nan"), "total": float("nan"), "n_scored": int(kept.size),
                "n_dropped": int(idx.size - kept.size)}
    miss = table.values["missing"][run, kept].sum() / events
    hall = table.values["wrong"][run, kept].sum() / events
    return {"miss": float(miss), "hall": float(hall), "total": float(miss + hall), "n_scored": int(kept.size),
            "n_dropped": int(idx.size - kept.size), "n_events": int(events)}


def breakdown(table: Table, run: int, idx: np.ndarray, items: list[BenchItem]) -> dict:
    return {}


def plan(ctx: Context, item: BenchItem, caption: str, run: int) -> list[tuple[JudgeTask, int]]:
    """The first-attempt questions of one item and run, with an estimate of each answer's tokens."""
    main, _ = tasks_for(ctx, item, caption)
    return [(main(), 12 + 8 * len(item.events or []) // 2)]
