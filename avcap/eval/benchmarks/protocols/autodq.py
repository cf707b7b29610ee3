"""DREAM-1K AutoDQ as the Tarsier scorer runs it.

Per video: reference events (``extra_info.events`` when the row has a list, else extracted),
caption events (extracted, at most 10), then entailment of the reference events by the caption
(recall) and of the caption events by the reference (precision); only "entailment" counts and
an empty list scores 1.0 (``avcap.metrics.autodq``). The scorer lower-cases both texts and
turns double quotes into single ones before extracting events. A video whose step still fails
after the retries is excluded and counted, per source. Per source P and R are averaged, F1
comes from the averages, and the overall P / R are means over the sources.
"""

from __future__ import annotations

import numpy as np

from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols.base import Context, Table, judge_failed
from avcap.judge import tasks
from avcap.judge.heuristic import sentences
from avcap.judge.tasks import JudgeTask
from avcap.metrics.autodq import autodq_item, f1

KEYS = ("f1", "precision", "recall")


def _texts(ctx: Context, item: BenchItem, caption: str) -> tuple[str, str]:
    reference = item.reference or ""
    if ctx.spec.lowercase:
        return reference.lower(), caption.lower()
    return reference, caption


def _for_extraction(ctx: Context, text: str) -> str:
    return text.replace('"', "'") if ctx.spec.lowercase else text


async def score(ctx: Context, item: BenchItem, caption: str, run: int) -> dict:
    reference, prediction = _texts(ctx, item, caption)
    if item.events is not None:
        ref_events = list(item.events)
    else:
        got = await ctx.ask(lambda: tasks.autodq_events(item.id, _for_extraction(ctx, reference)), run)
        if got.value is None:
            return judge_failed(got, "reference event extraction")
        ref_events = list(got.value.events)
    got = await ctx.ask(lambda: tasks.autodq_events(item.id, _for_extraction(ctx, prediction)), run)
    if got.value is None:
        return judge_failed(got, "caption event extraction")
    pred_events = list(got.value.events)
    labels = {}
    for what, description, events in (("recall", prediction, ref_events), ("precision", reference, pred_events)):
        if not events:
            labels[what] = []  # the scorer's score for an empty list is 1.0 whatever the judge says
            continue
        got = await ctx.ask(lambda d=description, e=events: tasks.autodq_entailment(item.id, d, e), run)
        if got.value is None:
            return judge_failed(got, f"{what} entailment")
        labels[what] = list(got.value.labels)
    p, r = autodq_item(len(ref_events), labels["recall"].count("entailment"),
                       len(pred_events), labels["precision"].count("entailment"))
    return {"status": "ok", "source": item.stratum or "all", "precision": p, "recall": r,
            "ref_events": ref_events, "ref_labels": labels["recall"], "pred_events": pred_events,
            "pred_labels": labels["precision"]}


def arrays(records: list[list[dict | None]], items: list[BenchItem], runs: int, usable: np.ndarray,
           variant: str | None = None) -> Table:
    n = len(items)
    ok = np.zeros((runs, n), dtype=bool)
    precision = np.zeros((runs, n))
    recall = np.zeros((runs, n))
    for i, per_run in enumerate(records):
        for r, rec in enumerate(per_run):
            if rec is not None and rec.get("status") == "ok":
                ok[r, i], precision[r, i], recall[r, i] = True, rec["precision"], rec["recall"]
    sources = sorted({it.stratum or "all" for it in items})
    code = np.asarray([sources.index(it.stratum or "all") for it in items], dtype=np.int64)
    return Table({"precision": precision, "recall": recall}, ok, usable, {"sources": sources, "code": code})


def _per_source(table: Table, run: int, idx: np.ndarray) -> dict[str, dict]:
    kept = idx[table.ok[run, idx]]
    codes = table.extra["code"][kept]
    out = {}
    for c, name in enumerate(table.extra["sources"]):
        mine = kept[codes == c]
        in_sample = int(np.count_nonzero(table.extra["code"][idx] == c))
        if in_sample == 0:
            continue
        if mine.size == 0:
            out[name] = {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"),
                         "n_scored": 0, "n_failed": in_sample}
            continue
        p = float(table.values["precision"][run, mine].mean())
        r = float(table.values["recall"][run, mine].mean())
        out[name] = {"precision": p, "recall": r, "f1": f1(p, r), "n_scored": int(mine.size),
                     "n_failed": in_sample - int(mine.size)}
    return out


def compute(table: Table, run: int, idx: np.ndarray, variant: str | None = None) -> dict:
    per = [s for s in _per_source(table, run, idx).values() if s["n_scored"]]
    n_scored = sum(s["n_scored"] for s in per)
    if not per:
        return {"f1": float("nan"), "precision": float("nan"), "recall": float("nan"), "n_scored": 0,
                "n_dropped": int(idx.size)}
    p = float(np.mean([s["precision"] for s in per]))
    r = float(np.mean([s["recall"] for s in per]))
    return {"f1": f1(p, r), "precision": p, "recall": r, "n_scored": n_scored, "n_dropped": int(idx.size - n_scored)}


def breakdown(table: Table, run: int, idx: np.ndarray, items: list[BenchItem]) -> dict:
    return {"per_source": _per_source(table, run, idx)}


def plan(ctx: Context, item: BenchItem, caption: str, run: int) -> list[tuple[JudgeTask, int]]:
    reference, prediction = _texts(ctx, item, caption)
    out = []
    ref_events = item.events
    if ref_events is None:
        out.append((tasks.autodq_events(item.id, _for_extraction(ctx, reference)), 120))
        ref_events = sentences(reference)[:10]
    out.append((tasks.autodq_events(item.id, _for_extraction(ctx, prediction)), 120))
    pred_events = sentences(prediction)[:10]  # the caption's events are not known before the judge lists them
    if ref_events:
        out.append((tasks.autodq_entailment(item.id, prediction, list(ref_events)), 12 * len(ref_events)))
    if pred_events:
        out.append((tasks.autodq_entailment(item.id, reference, pred_events), 12 * len(pred_events)))
    return out
