"""Repetition rate (seq-rep-4) and RepCol of the captions themselves; no judge."""

from __future__ import annotations

from avcap.eval.scorers.base import ItemContext, mean
from avcap.metrics.repetition import is_repetition_collapse, repetition_rate

NAME = "repetition"
ITEMS = "any"
JUDGED = False


async def score(ctx: ItemContext) -> dict:
    return {
        "status": "ok", "repetition_rate": repetition_rate(ctx.caption),
        "collapse": is_repetition_collapse(ctx.caption),
    }


def aggregate(records: list[dict], runs: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"n_scored": 0}
    # RepCol is the share of collapsed captions (avcap.metrics.repetition.repcol_rate); the
    # per-item verdicts are already here, so the share is taken directly.
    return {
        "n_scored": len(ok), "repetition_rate": mean([r["repetition_rate"] for r in ok]),
        "repcol": sum(r["collapse"] for r in ok) / len(ok),
        "distributions": {"repetition_rate": [r["repetition_rate"] for r in ok]},
    }
