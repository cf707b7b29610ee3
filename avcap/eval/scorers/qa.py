"""QA-by-caption accuracy (video-SALMONN 2 §5.3, AVoCaDO §4.2.2): answer from the caption alone.

An abstention ("N/A") or an unreadable answer counts as wrong (``avcap.metrics.qa``); a
judge failure is not an answer: the question is listed as failed and left out.
"""

from __future__ import annotations

from avcap.eval.scorers.base import ItemContext, ItemFailed
from avcap.judge import tasks
from avcap.metrics.qa import parse_choice, qa_accuracy

NAME = "qa"
ITEMS = "qa"
JUDGED = True


async def score(ctx: ItemContext) -> dict:
    item = ctx.qa
    if item is None:
        raise ItemFailed("the item is not a multiple-choice question")
    answer = await ctx.ask(tasks.qa_answer(ctx.item_id, ctx.caption, item.question, item.options))
    predicted = parse_choice(answer.answer, [letter for letter, _ in item.options])
    return {
        "status": "ok", "question": item.question, "options": [list(o) for o in item.options], "gold": item.answer,
        "answer": answer.answer, "predicted": predicted, "correct": predicted == item.answer,
    }


def aggregate(records: list[dict], runs: int) -> dict:
    ok = [r for r in records if r["status"] == "ok"]
    if not ok:
        return {"n_scored": 0}
    return {
        "n_scored": len(ok), "accuracy": qa_accuracy([r["predicted"] for r in ok], [r["gold"] for r in ok]),
        "abstained": sum(r["predicted"] is None for r in ok),
    }
