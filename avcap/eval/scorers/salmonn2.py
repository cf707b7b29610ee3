"""video-SALMONN 2 Miss% / Hall% / Total% (§3.3.1, Appendix F) with the N-run median protocol.

Events come from the row's ``events`` (the official test set ships them) or are extracted
from the reference caption by the judge (one extraction, run 0, cached). Each of the N
runs judges the caption against the events; a run's rates are pooled over the items
(Σmissing / Σevents ...) and the run with the median total is reported, plus mean ± std
over runs (``avcap.metrics.events``). An item that fails in any run is left out of every
run, so all runs pool the same items; it is listed with its cause.
"""

from __future__ import annotations

import asyncio

from avcap.eval.scorers.base import ItemContext, ItemFailed, failed
from avcap.judge import tasks
from avcap.metrics.events import EventCounts, item_error_rates, pooled_error_rates, run_summary

NAME = "salmonn2"
ITEMS = "captioning"
JUDGED = True


async def score(ctx: ItemContext) -> dict:
    row = ctx.row
    if row is not None and row.events:
        events, source = list(row.events), "data"
    else:
        extracted = await ctx.ask(tasks.salmonn2_events(ctx.item_id, ctx.reference), what="event extraction")
        events, source = list(extracted.events), "judge"
    if not events:
        raise ItemFailed("no atomic events: the reference yields none")
    task = tasks.salmonn2_judgment(ctx.item_id, ctx.caption, events)
    outcomes = await asyncio.gather(*(_run(ctx, task, k) for k in range(ctx.runs)))
    record = {"status": "ok", "events": events, "events_source": source, "runs": outcomes}
    errors = [run["error"] for run in outcomes if "error" in run]
    if errors:
        record.update(failed(f"{len(errors)} of {ctx.runs} runs failed: {errors[0]}"))
    return record


async def _run(ctx: ItemContext, task, run_index: int) -> dict:
    try:
        verdict = await ctx.ask(task, run_index)
    except ItemFailed as err:
        return {"error": str(err)}
    counts = EventCounts(verdict.n_events, len(verdict.missing), len(verdict.incorrect), len(verdict.hallucinated))
    return {
        "missing": list(verdict.missing), "incorrect": list(verdict.incorrect),
        "hallucinated": list(verdict.hallucinated), "notes": list(verdict.notes), **item_error_rates(counts),
    }


def _counts(record: dict, run_index: int) -> EventCounts:
    run = record["runs"][run_index]
    return EventCounts(len(record["events"]), len(run["missing"]), len(run["incorrect"]), len(run["hallucinated"]))


def aggregate(records: list[dict], runs: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"n_scored": 0}
    run_rates = [pooled_error_rates([_counts(r, k) for r in ok]) for k in range(runs)]
    summary = run_summary(run_rates)
    m = summary["median_index"]
    return {
        "n_scored": len(ok),
        "median_run": m,
        "miss": summary["median"]["miss"], "hall": summary["median"]["hall"], "total": summary["median"]["total"],
        "mean": summary["mean"], "std": summary["std"], "runs": summary["runs"],
        "distributions": {
            key: [r["runs"][m][key] for r in ok] for key in ("miss", "hall", "total")
        },
    }
