"""report.json: a pure function of the benchmark, the captions and the judgments.

Nothing that depends on how a run went (wall time, calls made, cache hits) is in it, so a
re-run from the cache writes the same bytes; that goes to run.json instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from avcap.eval.captions import CaptionSet
from avcap.eval.loaders import Benchmark
from avcap.eval.runner import EvalConfig, EvalResult, metric_units
from avcap.eval.scorers import SCORERS

REPORT_VERSION = 1


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, for the cost line of the report."""

    prompt_per_1m: float = 0.0
    completion_per_1m: float = 0.0

    def __post_init__(self) -> None:
        if self.prompt_per_1m < 0 or self.completion_per_1m < 0:
            raise ValueError("token prices must be >= 0")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_1m + completion_tokens * self.completion_per_1m) / 1e6


def build_report(
    bench: Benchmark,
    sets: list[CaptionSet],
    result: EvalResult,
    config: EvalConfig,
    judge_info: dict | None = None,
    prices: Prices | None = None,
) -> dict:
    prompt_tokens = sum(p for p, _ in result.tokens.values())
    completion_tokens = sum(c for _, c in result.tokens.values())
    return {
        "avcap_report": REPORT_VERSION,
        "params": {
            "data": str(bench.path), "format": bench.format, "metrics": list(config.metrics),
            "judge_runs": config.judge_runs, "dialogue_threshold": config.dialogue_threshold,
            "judge": judge_info,
        },
        "data_errors": [str(e) for e in bench.errors],
        "caption_sets": [_set_summary(bench, cset, result, config) for cset in sets],
        "tokens": {
            "judgments": len(result.tokens), "prompt": prompt_tokens, "completion": completion_tokens,
            "prices_per_1m": None if prices is None else [prices.prompt_per_1m, prices.completion_per_1m],
            "cost_usd": None if prices is None else prices.cost(prompt_tokens, completion_tokens),
        },
        "items": _items(bench, sets, result, config),
    }


def _set_summary(bench: Benchmark, cset: CaptionSet, result: EvalResult, config: EvalConfig) -> dict:
    metrics = {}
    failed_captions: dict[str, str] = {}
    judge_failures = []
    for metric in config.metrics:
        records = result.records[cset.name][metric]
        ordered = [(u.item_id, records[u.item_id]) for u in metric_units(bench, metric)]
        for item_id, rec in ordered:
            if rec["status"] == "caption_failed":
                failed_captions.setdefault(item_id, rec["error"])
            elif rec["status"] == "failed":
                judge_failures.append({"id": item_id, "metric": metric, "cause": rec["error"]})
        summary = {
            "n_items": len(ordered),
            "n_failed": sum(r["status"] == "failed" for _, r in ordered),
            "n_caption_failed": sum(r["status"] == "caption_failed" for _, r in ordered),
        }
        summary.update(SCORERS[metric].aggregate([r for _, r in ordered], config.judge_runs))
        metrics[metric] = summary
    from avcap.eval.audit import audit_summary

    return {
        "name": cset.name, "path": str(cset.path), "model": cset.model,
        "audit": audit_summary(list(cset.rows.values())),
        "caption_file_errors": [str(e) for e in cset.errors],
        "metrics": metrics,
        "failed_captions": [{"id": i, "cause": c} for i, c in failed_captions.items()],
        "judge_failures": judge_failures,
    }


def _items(bench: Benchmark, sets: list[CaptionSet], result: EvalResult, config: EvalConfig) -> list[dict]:
    items: dict[str, dict] = {}
    for metric in config.metrics:
        for unit in metric_units(bench, metric):
            item = items.get(unit.item_id)
            if item is None:
                item = items[unit.item_id] = {"id": unit.item_id, "video": unit.video}
                if unit.row is not None:
                    item["reference"] = unit.row.reference
                    item["events"] = unit.row.events
                if unit.qa is not None:
                    item["question"] = unit.qa.question
                item["captions"] = {}
                item["results"] = {}
                for cset in sets:
                    row = cset.lookup(unit.item_id, unit.video)
                    item["captions"][cset.name] = None if row is None else {"caption": row.caption, "error": row.error,
                                                                            "audit": row.audit}
                    item["results"][cset.name] = {}
            for cset in sets:
                item["results"][cset.name][metric] = result.records[cset.name][metric][unit.item_id]
    return list(items.values())
