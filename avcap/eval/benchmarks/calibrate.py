"""How far a local judge falls from a reference judge: two bench reports of the same captions.

Both reports carry every item's per-run records, so the comparison rebuilds each report's
numbers exactly as the report did (same protocol code) on the items both judged:

* ``shift`` — each reported metric, local minus reference, with a paired bootstrap over the
  shared videos (the full statistic: all runs, median run);
* ``per_item`` — agreement of per-item scores in the reported runs: mean absolute
  difference, Pearson and Spearman correlation (for video-SALMONN 2 the item's Miss and Hall
  rates, for DREAM-1K P and R, for QA whether the answer was right ...);
* ``labels`` — for video-SALMONN 2, agreement on each ground-truth event's label (missing /
  incorrect or not) with Cohen's kappa, where both judges listed the events.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from avcap.errors import ConfigError, DataError
from avcap.eval.benchmarks.formats import BenchItem
from avcap.eval.benchmarks.protocols import PROTOCOLS
from avcap.eval.benchmarks.report import _clean, _groups, headline_stat
from avcap.metrics.agreement import cohen_kappa, pearson, spearman
from avcap.metrics.bootstrap import paired_bootstrap


def load_report(path: str | Path) -> dict:
    path = Path(path)
    file = path / "report.json" if path.is_dir() else path
    if not file.is_file():
        raise DataError(f"{path}: no report.json (run `avcap bench run` first)")
    try:
        report = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{file}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(report, dict) or "avcap_bench_report" not in report:
        raise DataError(f"{file}: not a report of `avcap bench run`")
    return report


def _item_values(protocol: str, table, run: int) -> dict[str, np.ndarray]:
    v = table.values
    if protocol == "events":
        events = np.maximum(v["n_events"], 1)
        return {"miss": v["missing"][run] / events, "hall": v["wrong"][run] / events,
                "total": (v["missing"][run] + v["wrong"][run]) / events}
    if protocol == "autodq":
        return {"precision": v["precision"][run], "recall": v["recall"][run]}
    if protocol == "qa":
        return {"correct": v["correct"][run]}
    if protocol == "ugc":
        return {d: v[d][run] for d in ("visual", "audio", "details")}
    return {"score": v["all_score"][run], "accuracy": v["all_accuracy"][run]}


def _labels(local: list[dict], reference: list[dict], n_events: list[int]) -> dict:
    out = {}
    for key in ("missing", "incorrect"):
        a, b = [], []
        for rl, rr, n in zip(local, reference, n_events):
            if key in rl and key in rr:
                a += [j in set(rl[key]) for j in range(n)]
                b += [j in set(rr[key]) for j in range(n)]
        if a:
            out[key] = {"n": len(a), "agreement": float(np.mean(np.asarray(a) == np.asarray(b))),
                        "kappa": cohen_kappa(a, b)}
    return out


def calibrate(local: dict, reference: dict, n_boot: int = 1000, seed: int = 0) -> dict:
    bl, br = local["benchmark"], reference["benchmark"]
    if bl["protocol"] != br["protocol"]:
        raise ConfigError(f"the reports score different protocols ({bl['name']} vs {br['name']})")
    protocol = PROTOCOLS[bl["protocol"]]
    set_l = local["caption_sets"][0]["name"]
    names_r = [s["name"] for s in reference["caption_sets"]]
    set_r = set_l if set_l in names_r else names_r[0]
    ref_items = {it["id"]: it for it in reference["items"]}
    shared = [it for it in local["items"] if it["id"] in ref_items]
    if not shared:
        raise DataError("the two reports share no item id")
    rec_l = [it["results"][set_l] for it in shared]
    rec_r = [ref_items[it["id"]]["results"][set_r] for it in shared]
    items = [BenchItem(it["id"], it["id"], it.get("group", it["id"]), stratum=it.get("stratum"),
                       events=[""] * it["n_events"] if "n_events" in it else None, meta=it.get("meta", {}))
             for it in shared]
    usable = np.asarray([rl[0].get("status") != "caption_failed" and rr[0].get("status") != "caption_failed"
                         for rl, rr in zip(rec_l, rec_r)])
    runs_l, runs_r = len(rec_l[0]), len(rec_r[0])
    variant_l = next((d.split(" ", 1)[1] for d in local.get("deviations", []) if d.startswith("variant ")), None)
    table_l = protocol.arrays(rec_l, items, runs_l, usable, variant_l)
    table_r = protocol.arrays(rec_r, items, runs_r, usable, variant_l)
    idx = np.flatnonzero(usable)
    groups, strata = _groups(items, idx, bl.get("strata_field"))
    headline = bl["headline"]
    shift = paired_bootstrap(headline_stat(protocol, table_l, runs_l, headline, variant_l),
                             headline_stat(protocol, table_r, runs_r, headline, variant_l),
                             groups, n_boot=max(n_boot, 1), seed=seed, strata=strata)
    run_l = next(s["reported_run"] for s in local["caption_sets"] if s["name"] == set_l)
    run_r = next(s["reported_run"] for s in reference["caption_sets"] if s["name"] == set_r)
    both = idx[table_l.ok[run_l, idx] & table_r.ok[run_r, idx]]
    per_item = {}
    values_l, values_r = _item_values(bl["protocol"], table_l, run_l), _item_values(bl["protocol"], table_r, run_r)
    for key in values_l:
        a, b = values_l[key][both], values_r[key][both]
        per_item[key] = {"n": int(both.size), "mean_abs_diff": float(np.abs(a - b).mean()) if both.size else None,
                         "pearson": pearson(a, b) if both.size > 1 else None,
                         "spearman": spearman(a, b) if both.size > 1 else None}
    labels = {}
    if bl["protocol"] == "events":
        labels = _labels([rec_l[i][run_l] for i in both], [rec_r[i][run_r] for i in both],
                         [len(items[i].events or []) for i in both])
    return _clean({
        "benchmark": bl["name"], "reference_benchmark": br["name"], "n_shared_items": len(shared),
        "n_scored_by_both": int(both.size), "local_judge": local["judge"].get("model"),
        "reference_judge": reference["judge"].get("model"), "reported_runs": {"local": run_l, "reference": run_r},
        "shift": shift, "per_item": per_item, "labels": labels,
        "test": "paired bootstrap over videos, two-sided, null-centred",
    })
