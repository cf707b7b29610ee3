"""report.json of a benchmark run: per-run values, the reported run, spread, intervals, failures.

Everything here is a function of the prepared inputs and the records (judgments come from the
cache on a re-run), so a re-run writes the same report.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from avcap.eval.benchmarks.protocols.base import Table
from avcap.metrics.bootstrap import bootstrap_ci, group_indices, paired_bootstrap, run_spread
from avcap.metrics.events import median_run

REPORT_VERSION = 1


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def choose_run(per_run: list[dict], headline: str) -> int:
    """The reported run: the one whose headline is the median (lower median, ties by run order)."""
    finite = [(r, m[headline]) for r, m in enumerate(per_run) if _finite(m.get(headline))]
    if not finite:
        return 0
    pick = median_run([{"total": v} for _, v in finite])
    return finite[pick][0]


def headline_stat(protocol: ModuleType, table: Table, runs: int, headline: str, variant: str | None):
    """The whole reported statistic over item positions ``idx``: every run, then the median run's metrics."""

    def stat(idx: np.ndarray) -> dict[str, float]:
        per_run = [protocol.compute(table, r, idx, variant) for r in range(runs)]
        chosen = per_run[choose_run(per_run, headline)]
        return {k: float(chosen.get(k, math.nan)) for k in protocol.KEYS}

    return stat


def _groups(items, positions: np.ndarray, strata_field: str | None):
    labels = [items[i].group for i in positions]
    groups = [positions[g] for g in group_indices(labels)]
    strata = None
    if strata_field:
        strata = [getattr(items[int(g[0])], "stratum", None) or "all" for g in groups]
    return groups, strata


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN: an undefined number (nothing scored) is null
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def set_summary(prep, s: int, records: list[list[dict]]) -> tuple[dict, Table]:
    from avcap.eval.benchmarks.runner import usable_indices

    spec, protocol, items = prep.spec, prep.protocol, prep.data.items
    runs, variant = spec.runs, prep.job.variant
    idx = usable_indices(prep, s)
    usable = np.zeros(len(items), dtype=bool)
    usable[idx] = True
    table = protocol.arrays(records, items, runs, usable, variant)
    per_run = [protocol.compute(table, r, idx, variant) for r in range(runs)]
    chosen = choose_run(per_run, spec.headline)
    run_rows = []
    for r, metrics in enumerate(per_run):
        failed = [{"id": items[i].id, "cause": records[i][r].get("error", "")} for i in idx
                  if records[i][r].get("status") in ("failed", "partial")]
        run_rows.append({"run": r, "metrics": metrics, "failures": failed})
    across = {}
    for key in protocol.KEYS:
        values = [m.get(key) for m in per_run]
        if all(_finite(v) for v in values):
            across[key] = run_spread(values)
    interval = {}
    if prep.job.n_boot and idx.size:
        groups, strata = _groups(items, idx, spec.strata_field)
        interval = bootstrap_ci(headline_stat(protocol, table, runs, spec.headline, variant), groups,
                                n_boot=prep.job.n_boot, level=prep.job.level, seed=prep.job.boot_seed, strata=strata)
    attempts = [rec.get("attempts", 1) for per in records for rec in per if rec and "attempts" in rec]
    cset = prep.sets[s]
    summary = {
        "name": cset.name, "path": str(cset.set.path), "model": cset.set.model, "layout": cset.layout,
        "caption_file_errors": [str(e) for e in cset.set.errors],
        "n_items": len(items), "n_usable": int(idx.size),
        "caption_failed": [{"id": items[i].id, "cause": prep.captions[s][i][1]} for i in range(len(items))
                           if prep.captions[s][i][0] is None],
        "collapsed_captions": sum(1 for c in prep.captions[s] if c[2]),
        "reported_run": chosen, "headline": per_run[chosen], "runs": run_rows, "across_runs": across,
        "interval": interval, "breakdown": protocol.breakdown(table, chosen, idx, items),
        "attempts": {"questions_retried": sum(a > 1 for a in attempts),
                     "answered_by_fallback": sum(1 for per in records for rec in per if rec and rec.get("fallback")),
                     "max_attempts": max(attempts, default=0)},
    }
    return summary, table


def compare(prep, tables: list[Table]) -> dict:
    from avcap.eval.benchmarks.runner import usable_indices

    spec, protocol, items = prep.spec, prep.protocol, prep.data.items
    common = np.intersect1d(usable_indices(prep, 0), usable_indices(prep, 1))
    out = {"a": prep.sets[0].name, "b": prep.sets[1].name, "n_common_items": int(common.size)}
    if common.size == 0:
        out["error"] = "the two caption files share no scorable item"
        return out
    groups, strata = _groups(items, common, spec.strata_field)
    out["n_common_groups"] = len(groups)
    stats = [headline_stat(protocol, t, spec.runs, spec.headline, prep.job.variant) for t in tables]
    out["metrics"] = paired_bootstrap(stats[0], stats[1], groups, n_boot=max(prep.job.n_boot, 1),
                                      level=prep.job.level, seed=prep.job.boot_seed, strata=strata)
    out["test"] = "paired bootstrap over videos, two-sided, null-centred: (1 + #{|d* - d| >= |d|}) / (B + 1)"
    return out


def _items(prep, records_by_set: list[list[list[dict]]]) -> list[dict]:
    out = []
    for i, item in enumerate(prep.data.items):
        row = {"id": item.id, "group": item.group, "video": item.video}
        if item.stratum:
            row["stratum"] = item.stratum
        if item.events is not None:
            row["n_events"] = len(item.events)
        if item.meta:
            row["meta"] = item.meta
        if item.qa:
            row["n_questions"] = len(item.qa)
        row["results"] = {prep.sets[s].name: records_by_set[s][i] for s in range(len(prep.sets))}
        out.append(row)
    return out


def build_report(prep, records_by_set: list[list[list[dict]]], judge: dict, tokens: dict[str, tuple[int, int]]) -> dict:
    summaries, tables = [], []
    for s in range(len(prep.sets)):
        summary, table = set_summary(prep, s, records_by_set[s])
        summaries.append(summary)
        tables.append(table)
    prompt_tokens = sum(p for p, _ in tokens.values())
    completion_tokens = sum(c for _, c in tokens.values())
    prices = prep.job.prices
    report = {
        "avcap_bench_report": REPORT_VERSION,
        "benchmark": prep.spec.describe(),
        "deviations": list(prep.job.deviations) + ([f"variant {prep.job.variant}"] if prep.job.variant and
                                                     f"variant {prep.job.variant}" not in prep.job.deviations else []),
        "notices": prep.notices,
        "data": {"path": str(prep.data.path), "format": prep.data.format, "n_items": len(prep.data.items),
                 "n_groups": len({it.group for it in prep.data.items}), "errors": [str(e) for e in prep.data.errors]},
        "judge": judge,
        "bootstrap": {"n_boot": prep.job.n_boot, "level": prep.job.level, "seed": prep.job.boot_seed,
                      "unit": "video", "strata": prep.spec.strata_field,
                      "statistic": "the reported number itself: every run recomputed, then the median run"},
        "caption_sets": summaries,
        "compare": compare(prep, tables) if len(prep.sets) == 2 else None,
        "tokens": {"judgments": len(tokens), "prompt": prompt_tokens, "completion": completion_tokens,
                   "prices_per_1m": None if prices is None else [prices.prompt_per_1m, prices.completion_per_1m],
                   "cost_usd": None if prices is None else prices.cost(prompt_tokens, completion_tokens)},
        "items": _items(prep, records_by_set),
    }
    return _clean(report)
