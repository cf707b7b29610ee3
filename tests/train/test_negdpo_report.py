"""The nano evidence table for Tarsier2's DPO: settings, MrDPO beside them (AutoDQ rescored), pair yield."""

from __future__ import annotations

import json

from avcap.train.negdpo_report import collect, main, markdown

EVENTS = ["A low tone plays.", "A red square appears on the left."]


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_report_collects_settings_mrdpo_and_pair_yield(tmp_path, capsys):
    run = tmp_path / "nano"
    _write(run / "data" / "heldout" / "train.json",
           [{"id": "h0", "video": "h0.mp4", "events": EVENTS, "conversations": [{"from": "gpt", "value": "x"}]}])
    start = {"model": "sft", "total": 1.2, "miss": 0.6, "hall": 0.6, "autodq": {"precision": 0.3, "recall": 0.2,
                                                                                  "f1": 0.24, "n_items": 1}}
    final = {**start, "total": 1.0, "autodq": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n_items": 1}}
    for name in ("full", "no_ns", "no_pf"):
        _write(run / "negdpo" / name / "report.json", {"eval_start": start, "eval_final": final,
                                                       "pairs": {"pairs": 7}, "train": {"global_step": 3}})
    _write(run / "mrdpo" / "round_1" / "report.json", {"eval": {"total": 1.1, "miss": 0.5, "hall": 0.6},
                                                       "pairs": {"pairs": 9}, "train": {"global_step": 4}})
    (run / "mrdpo" / "round_1" / "eval_captions.jsonl").write_text(
        json.dumps({"id": "h0", "caption": "A low tone plays."}) + "\n")
    kind = {"candidates": 2, "kept": 1, "yield": 0.5, "empty": 0, "mean_delta_p": 0.1, "mean_delta_r": 0.2}
    _write(run / "negdpo" / "pairs.stats.json", {"delta": 0.3, "scored": 2, "negative": {**kind, "per_kind":
                                                 {"crop": kind}}, "second": kind})
    report = collect(run)
    stages = [line["stage"] for line in report["table"]]
    assert stages == ["start (sft)", "MrDPO round 1 (gDPO)", "negdpo (full)", "negdpo w/o NS", "negdpo w/o PF"]
    mrdpo = report["table"][1]
    assert (mrdpo["precision"], mrdpo["recall"], mrdpo["pairs"], mrdpo["steps"]) == (1.0, 0.5, 9, 4)  # rescored
    text = markdown(report)
    assert "| negdpo (full) | 100.0% |" in text and "| crop | 2 | 1 | 50.0% | +0.100 | +0.200 |" in text
    main([str(run)])
    assert (run / "negdpo" / "REPORT.md").read_text() == text and "second clean sample" in capsys.readouterr().out
