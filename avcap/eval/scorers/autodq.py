"""Tarsier2 / DREAM-1K AutoDQ precision, recall and F1.

Reference events: DREAM-1K's own ``extra_info.events`` when the row has them, else at most
10 key events extracted from the reference by the judge; predicted events are extracted
from the caption. Recall: reference events the caption entails; precision: caption events
the reference entails (only "entailment" counts). Aggregation per source, then over
sources (``avcap.metrics.autodq``). Failed items are excluded from the scores and listed.
"""

from __future__ import annotations

import asyncio

from avcap.eval.scorers.base import ItemContext, mean
from avcap.judge import tasks
from avcap.metrics.autodq import autodq_aggregate, autodq_item

NAME = "autodq"
ITEMS = "captioning"
JUDGED = True


def _given_events(raw: dict) -> list[str] | None:
    extra = raw.get("extra_info") if isinstance(raw, dict) else None
    events = extra.get("events") if isinstance(extra, dict) else None
    if isinstance(events, list) and events and all(isinstance(e, str) for e in events):
        return [e.strip() for e in events if e.strip()]
    return None


async def _entailed(ctx: ItemContext, description: str, events: list[str], what: str) -> list[str]:
    if not events:
        return []
    labels = await ctx.ask(tasks.autodq_entailment(ctx.item_id, description, events), what=what)
    return list(labels.labels)


async def score(ctx: ItemContext) -> dict:
    reference = ctx.reference
    given = _given_events(ctx.row.raw) if ctx.row is not None else None

    async def ref_events() -> list[str]:
        if given is not None:
            return given
        found = await ctx.ask(tasks.autodq_events(ctx.item_id, reference), what="reference event extraction")
        return list(found.events)

    async def pred_events() -> list[str]:
        found = await ctx.ask(tasks.autodq_events(ctx.item_id, ctx.caption), what="caption event extraction")
        return list(found.events)

    ref, pred = await asyncio.gather(ref_events(), pred_events())
    ref_labels, pred_labels = await asyncio.gather(
        _entailed(ctx, ctx.caption, ref, "recall entailment"), _entailed(ctx, reference, pred, "precision entailment")
    )
    p, r = autodq_item(len(ref), ref_labels.count("entailment"), len(pred), pred_labels.count("entailment"))
    source = ctx.row.raw.get("dataset") if ctx.row is not None and isinstance(ctx.row.raw, dict) else None
    return {
        "status": "ok", "source": str(source or "all"), "ref_events": ref, "ref_labels": ref_labels,
        "pred_events": pred, "pred_labels": pred_labels, "precision": p, "recall": r,
    }


def aggregate(records: list[dict], runs: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"n_scored": 0}
    agg = autodq_aggregate([(r["source"], r["precision"], r["recall"]) for r in ok])
    return {
        "n_scored": len(ok), **agg["overall"], "per_source": agg["per_source"],
        "mean_item_precision": mean([r["precision"] for r in ok]),
        "distributions": {"precision": [r["precision"] for r in ok], "recall": [r["recall"] for r in ok]},
    }
