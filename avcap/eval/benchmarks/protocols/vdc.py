"""VDC detailed subset, VDCscore: each reference question answered from the caption, then matched.

Per question two calls: the judge answers from the caption (a short phrase), then compares
that answer with the correct one (yes / no and a 0-5 score). Per video: score = mean score,
accuracy = share of "yes". The official AuroraCap rule (``drop_video``): a video in which any
call fails is left out, and so is a video whose score or accuracy is 0. Variant ``avocado``
(AVoCaDO's copy): a failed answer drops its question, an unreadable match counts 0 / "no",
and videos at 0 are still left out. ``all_videos_*`` keep every video, failures at 0.
"""

from __future__ import annotations

import asyncio

import numpy as np

from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols.base import Context, Table, safe_mean
from avcap.judge import tasks
from avcap.judge.tasks import JudgeTask

KEYS = ("score", "accuracy", "all_videos_score", "all_videos_accuracy")


async def _pair(ctx: Context, item: BenchItem, n: int, pair: dict, caption: str, run: int) -> dict:
    qid = f"{item.id}#{n}"
    got = await ctx.ask(lambda: tasks.vdc_answer(qid, caption, pair["question"]), run)
    if got.value is None:
        return {"answer_error": got.error}
    predicted = got.value.answer
    match = await ctx.ask(lambda: tasks.vdc_match(qid, pair["question"], pair["answer"], predicted), run)
    if match.value is None:
        return {"answer": predicted, "match_error": match.error}
    return {"answer": predicted, "pred": match.value.pred, "score": match.value.score}


async def score(ctx: Context, item: BenchItem, caption: str, run: int) -> dict:
    results = list(await asyncio.gather(*(_pair(ctx, item, n, pair, caption, run) for n, pair in enumerate(item.qa))))
    failures = sum("answer_error" in r or "match_error" in r for r in results)
    out = {"status": "ok" if failures == 0 else "partial", "qa": results, "n_failed_calls": failures}
    if failures == len(item.qa):
        out.update(status="failed", error=next(r.get("answer_error") or r.get("match_error") for r in results))
    return out


def _video(rec: dict, rule: str) -> tuple[float, float, bool]:
    """(score, accuracy, kept by the rule) of one video's record."""
    qa = rec.get("qa") or []
    if rule == "all_videos":
        scores = [r.get("score", 0.0) for r in qa]
        yes = [bool(r.get("pred")) for r in qa]
    elif rule == "avocado":
        live = [r for r in qa if "answer_error" not in r]  # a failed answer drops its question
        scores = [r.get("score", 0.0) for r in live]  # an unreadable match counts 0 and "no"
        yes = [bool(r.get("pred")) for r in live]
    else:  # drop_video (AuroraCap): any failure leaves the whole video out
        if rec.get("status") != "ok":
            return 0.0, 0.0, False
        scores = [r["score"] for r in qa]
        yes = [bool(r["pred"]) for r in qa]
    s = float(np.mean(scores)) if scores else 0.0
    a = float(np.mean(yes)) if yes else 0.0
    kept = True if rule == "all_videos" else bool(s and a)  # the scripts' `if tp_score and tp_acc`
    return s, a, kept


def arrays(records: list[list[dict | None]], items: list[BenchItem], runs: int, usable: np.ndarray,
           variant: str | None = None) -> Table:
    rule = "avocado" if variant == "avocado" else "drop_video"
    n = len(items)
    vals = {k: np.zeros((runs, n)) for k in ("score", "accuracy", "all_score", "all_accuracy")}
    kept = np.zeros((runs, n), dtype=bool)
    ok = np.zeros((runs, n), dtype=bool)
    for i, per_run in enumerate(records):
        for r, rec in enumerate(per_run):
            if rec is None or rec.get("status") == "caption_failed":
                continue
            ok[r, i] = rec.get("status") == "ok"
            vals["score"][r, i], vals["accuracy"][r, i], kept[r, i] = _video(rec, rule)
            vals["all_score"][r, i], vals["all_accuracy"][r, i], _ = _video(rec, "all_videos")
    return Table({**vals, "kept": kept}, ok, usable)


def compute(table: Table, run: int, idx: np.ndarray, variant: str | None = None) -> dict:
    kept = idx[table.values["kept"][run, idx]]
    return {"score": safe_mean(table.values["score"][run, kept]),
            "accuracy": safe_mean(table.values["accuracy"][run, kept]),
            "all_videos_score": safe_mean(table.values["all_score"][run, idx]),
            "all_videos_accuracy": safe_mean(table.values["all_accuracy"][run, idx]),
            "n_scored": int(kept.size), "n_dropped": int(idx.size - kept.size),
            "n_failed": int(idx.size - np.count_nonzero(table.ok[run, idx]))}


def breakdown(table: Table, run: int, idx: np.ndarray, items: list[BenchItem]) -> dict:
    return {}


def plan(ctx: Context, item: BenchItem, caption: str, run: int) -> list[tuple[JudgeTask, int]]:
    out = []
    for n, pair in enumerate(item.qa):
        out.append((tasks.vdc_answer(f"{item.id}#{n}", caption, pair["question"]), 20))
        # The predicted answer is not known before the judge gives it; a short stand-in sizes the prompt.
        out.append((tasks.vdc_match(f"{item.id}#{n}", pair["question"], pair["answer"], "a short answer"), 15))
    return out
