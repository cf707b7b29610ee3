"""UGC-VideoCap: one judge call per video grades visual, audio and details from 1 to 5.

As in the official ``eval_caption.py``: a call that fails or an answer that cannot be read
scores 0 on every dimension and stays in the mean; a video with an empty caption is skipped.
The headline is the mean of the per-video averages, / 5 x 100. ``overall_percent_answered``
leaves the failed videos out, for comparison.
"""

from __future__ import annotations

import numpy as np

from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols.base import Context, Table, judge_failed, safe_mean
from avcap.judge import tasks
from avcap.judge.tasks import JudgeTask

KEYS = ("overall_percent", "visual", "audio", "details", "overall_percent_answered")
DIMENSIONS = ("visual", "audio", "details")


def _task(item: BenchItem, caption: str) -> JudgeTask:
    return tasks.ugc_score(item.id, caption, item.reference or "")


async def score(ctx: Context, item: BenchItem, caption: str, run: int) -> dict:
    if not caption.strip():
        return {"status": "skipped", "error": "empty caption (the official script skips it)"}
    got = await ctx.ask(lambda: _task(item, caption), run)
    if got.value is None:
        return judge_failed(got)
    return {"status": "ok", **{d: getattr(got.value, d) for d in DIMENSIONS}, **got.log()}


def arrays(records: list[list[dict | None]], items: list[BenchItem], runs: int, usable: np.ndarray,
           variant: str | None = None) -> Table:
    n = len(items)
    ok = np.zeros((runs, n), dtype=bool)
    grades = {d: np.zeros((runs, n)) for d in DIMENSIONS}
    skipped = np.zeros(n, dtype=bool)
    for i, per_run in enumerate(records):
        for r, rec in enumerate(per_run):
            if rec is None:
                continue
            if rec.get("status") == "skipped":
                skipped[i] = True
            elif rec.get("status") == "ok":
                ok[r, i] = True
                for d in DIMENSIONS:
                    grades[d][r, i] = rec[d]
    return Table({**grades, "skipped": skipped}, ok, usable)


def compute(table: Table, run: int, idx: np.ndarray, variant: str | None = None) -> dict:
    idx = idx[~table.values["skipped"][idx]]
    per = {d: table.values[d][run, idx] for d in DIMENSIONS}  # a failure holds 0 on every dimension
    average = (per["visual"] + per["audio"] + per["details"]) / 3.0
    ok = table.ok[run, idx]
    out = {"overall_percent": safe_mean(average) / 5.0 * 100.0,
           "overall_percent_answered": safe_mean(average[ok]) / 5.0 * 100.0}
    for d in DIMENSIONS:
        out[d] = safe_mean(per[d])
        out[f"{d}_percent"] = out[d] / 5.0 * 100.0
    out.update(n_scored=int(idx.size), n_failed=int(idx.size - np.count_nonzero(ok)), n_dropped=0)
    return out


def breakdown(table: Table, run: int, idx: np.ndarray, items: list[BenchItem]) -> dict:
    return {"n_skipped": int(np.count_nonzero(table.values["skipped"][idx]))}


def plan(ctx: Context, item: BenchItem, caption: str, run: int) -> list[tuple[JudgeTask, int]]:
    return [(_task(item, caption), 20)] if caption.strip() else []
