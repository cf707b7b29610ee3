"""AVoCaDO checklist score (§3.2.2, Eq. 3): keypoints of the reference, judged 0/1 against the caption.

Keypoints are extracted once from the reference (cached, shared by every caption file);
the judge lists the keypoints the caption states correctly. Per item the score is the
fraction hit (``avcap.metrics.checklist``); the benchmark reports the mean item score and
the pooled per-dimension breakdown.
"""

from __future__ import annotations

from avcap.eval.scorers.base import ItemContext, ItemFailed, mean
from avcap.judge import tasks
from avcap.metrics.checklist import checklist_score

NAME = "checklist"
ITEMS = "captioning"
JUDGED = True


async def score(ctx: ItemContext) -> dict:
    found = await ctx.ask(tasks.checklist_keypoints(ctx.item_id, ctx.reference), what="keypoint extraction")
    keypoints = [list(k) for k in found.items]
    if not keypoints:
        raise ItemFailed("the reference yields no keypoints")
    hits = await ctx.ask(tasks.checklist_judgment(ctx.item_id, ctx.caption, [t for _, t in keypoints]))
    correct = set(hits.correct)
    scored = checklist_score([(dim, int(i in correct)) for i, (dim, _) in enumerate(keypoints)])
    return {
        "status": "ok", "keypoints": keypoints, "correct": sorted(correct), "notes": list(found.notes + hits.notes),
        "score": scored["overall"], "per_dimension": scored["per_dimension"],
    }


def aggregate(records: list[dict], runs: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"n_scored": 0}
    pooled = checklist_score(
        [(dim, int(i in set(r["correct"]))) for r in ok for i, (dim, _) in enumerate(r["keypoints"])]
    )
    return {
        "n_scored": len(ok), "score": mean([r["score"] for r in ok]), "pooled": pooled["overall"],
        "per_dimension": pooled["per_dimension"], "distributions": {"score": [r["score"] for r in ok]},
    }
