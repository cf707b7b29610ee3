"""Caption-based QA (Daily-Omni, WorldSense as AVoCaDO evaluates captions).

A text judge answers each multiple-choice question from the caption alone, with a letter or
"N/A". Correct = the answer, stripped, equals the gold letter case-insensitively (the official
``analysis.py`` equality; variant ``lenient`` reads the letter with
``avcap.metrics.qa.parse_choice``). N/A is wrong. A question whose attempts all fail has no
answer, which the official equality also counts wrong: accuracy keeps it in the denominator
(``accuracy``); ``accuracy_answered`` leaves the failures out, for comparison.
"""

from __future__ import annotations

import numpy as np

from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols.base import Context, Table, judge_failed, safe_mean
from avcap.judge import tasks
from avcap.judge.tasks import JudgeTask
from avcap.metrics.qa import parse_choice

KEYS = ("accuracy", "accuracy_answered")


def _task(item: BenchItem, caption: str) -> JudgeTask:
    return tasks.qa_answer(item.id, caption, item.question or "", item.options)


def is_correct(answer: str, gold: str, letters: list[str], match: str) -> tuple[bool, bool]:
    """``(correct, abstained)`` of one answer under the benchmark's match rule."""
    choice = parse_choice(answer, letters)
    if match == "lenient":
        return choice == gold, choice is None
    return answer.strip().upper() == gold.strip().upper(), choice is None


async def score(ctx: Context, item: BenchItem, caption: str, run: int) -> dict:
    got = await ctx.ask(lambda: _task(item, caption), run)
    if got.value is None:
        return judge_failed(got)
    match = "lenient" if ctx.variant == "lenient" else (ctx.spec.answer_match or "exact")
    correct, abstained = is_correct(got.value.answer, item.answer or "", [x for x, _ in item.options], match)
    return {"status": "ok", "answer": got.value.answer, "gold": item.answer, "correct": correct,
            "abstained": abstained, **got.log()}


def arrays(records: list[list[dict | None]], items: list[BenchItem], runs: int, usable: np.ndarray,
           variant: str | None = None) -> Table:
    n = len(items)
    ok = np.zeros((runs, n), dtype=bool)
    correct = np.zeros((runs, n))
    abstained = np.zeros((runs, n))
    for i, per_run in enumerate(records):
        for r, rec in enumerate(per_run):
            if rec is not None and rec.get("status") == "ok":
                ok[r, i], correct[r, i], abstained[r, i] = True, rec["correct"], rec["abstained"]
    return Table({"correct": correct, "abstained": abstained}, ok, usable)


def compute(table: Table, run: int, idx: np.ndarray, variant: str | None = None) -> dict:
    ok = table.ok[run, idx]
    correct = table.values["correct"][run, idx]  # a failed question holds 0: wrong, as the official equality has it
    return {"accuracy": safe_mean(correct), "accuracy_answered": safe_mean(correct[ok]),
            "abstained": safe_mean(table.values["abstained"][run, idx][ok]), "n_scored": int(idx.size),
            "n_failed": int(idx.size - np.count_nonzero(ok)), "n_dropped": 0}


def breakdown(table: Table, run: int, idx: np.ndarray, items: list[BenchItem]) -> dict:
    fields = sorted({k for i in idx for k in items[i].meta})
    out: dict[str, dict] = {}
    for name in fields:
        groups: dict[str, list[int]] = {}
        for i in idx:
            if name in items[i].meta:
                groups.setdefault(items[i].meta[name], []).append(int(i))
        out[name] = {value: {"accuracy": safe_mean(table.values["correct"][run, np.asarray(members)]),
                             "n": len(members)} for value, members in sorted(groups.items())}
    return out


def plan(ctx: Context, item: BenchItem, caption: str, run: int) -> list[tuple[JudgeTask, int]]:
    return [(_task(item, caption), 8)]
