"""Pair selection from Tarsier2 candidates (full / w/o NS / w/o PF, same budget) and the pair statistics."""

from __future__ import annotations

import pytest

from avcap.errors import DataError
from avcap.train.negpairs import pair_statistics, select_pairs


def _row(i, kind, clean, corrupted, second=None, caps=None):
    scores = {"clean": dict(zip(("precision", "recall"), clean)),
              "corrupted": dict(zip(("precision", "recall"), corrupted))}
    candidates = caps or {"clean": f"clean {i}", "corrupted": f"bad {i}"}
    if second is not None:
        scores["clean_2"] = dict(zip(("precision", "recall"), second))
        candidates.setdefault("clean_2", f"again {i}")
    return {"id": f"v{i}", "video": f"/v{i}.mp4", "conversations": [], "candidates": candidates, "autodq": scores,
            "corruption": {"kind": kind, "seed": i, "params": {}, "frame_times": []}, "filter": {},
            "model": "m", "judge": "j", "sampling": {"prompt": "Describe."}, "error": None}


ROWS = [
    _row(0, "exchange", (0.8, 0.6), (0.5, 0.5), second=(0.8, 0.6)),   # ΔP .3 ΔR .1: kept; y' ties
    _row(1, "crop", (0.6, 0.6), (0.6, 0.2), second=(0.2, 0.2)),       # ΔR .4: kept; y' far worse: kept
    _row(2, "reverse", (0.5, 0.5), (0.4, 0.4), second=(0.9, 0.9)),    # sum .2: dropped; y' better: dropped
    _row(3, "discard", (0.9, 0.3), (0.5, 0.5), second=(0.5, 0.2)),    # ΔR < 0: dropped; y' ΔP .4 ΔR .1: kept
    _row(4, "crop", (1.0, 1.0), (0.0, 0.0), second=(1.0, 1.0),         # an empty ỹ is never a pair
         caps={"clean": "clean 4", "corrupted": "  "}),
]


def test_full_setting_keeps_eq1_pairs_with_clean_chosen_and_corrupted_rejected():
    pairs, info = select_pairs(ROWS)
    assert [p["id"] for p in pairs] == ["v0", "v1"]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("clean 0", "bad 0"), ("clean 1", "bad 1")]
    assert info["setting"] == "full" and info["eligible"] == 2 and info["per_kind"] == {"crop": 1, "exchange": 1}
    p = pairs[0]
    assert p["scores"]["delta_p"] == pytest.approx(0.3) and p["scores"]["kind"] == "exchange"
    assert p["video"] == "/v0.mp4" and p["sampling"] == {"prompt": "Describe."}
    assert not {"candidates", "autodq", "filter", "judge", "error"} & set(p)  # a plain preference row


def test_without_negative_sampling_the_second_clean_sample_is_rejected():
    pairs, info = select_pairs(ROWS, negative_sampling=False)
    assert [(p["id"], p["rejected"]) for p in pairs] == [("v1", "again 1"), ("v3", "again 3")]
    assert info["setting"] == "w/o NS" and info["rejected_from"] == "clean_2"
    assert {p["scores"]["kind"] for p in pairs} == {"second_sample"}


def test_without_the_filter_every_nonempty_candidate_is_a_pair():
    pairs, info = select_pairs(ROWS, use_filter=False)
    assert [p["id"] for p in pairs] == ["v0", "v1", "v2", "v3"] and info["setting"] == "w/o PF"
    assert select_pairs(ROWS, negative_sampling=False, use_filter=False)[1]["setting"] == "w/o NS, w/o PF"


def test_num_pairs_draws_the_same_budget_reproducibly():
    a, info = select_pairs(ROWS, use_filter=False, num_pairs=2, seed=1)
    b, _ = select_pairs(ROWS, use_filter=False, num_pairs=2, seed=1)
    assert a == b and len(a) == 2 and info["short_by"] == 0
    others = {tuple(p["id"] for p in select_pairs(ROWS, use_filter=False, num_pairs=2, seed=s)[0]) for s in range(8)}
    assert len(others) > 1
    short, info = select_pairs(ROWS, num_pairs=5)
    assert len(short) == 2 and info["short_by"] == 3  # fewer eligible than asked: recorded


def test_rows_without_a_second_sample_cannot_make_the_ablation():
    row = _row(9, "crop", (1, 1), (0, 0))
    with pytest.raises(DataError, match="--second-sample"):
        select_pairs([row], negative_sampling=False)
    with pytest.raises(DataError, match="not a row of"):
        select_pairs([{"id": "x", "video": "/x.mp4"}])


def test_statistics_per_kind_and_means():
    stats = pair_statistics(ROWS)
    neg = stats["negative"]
    assert (neg["candidates"], neg["kept"], neg["empty"]) == (5, 2, 1)
    assert neg["per_kind"]["crop"]["candidates"] == 2 and neg["per_kind"]["crop"]["kept"] == 1
    assert neg["per_kind"]["crop"]["yield"] == 0.5 and neg["per_kind"]["reverse"]["kept"] == 0
    # ΔP over all five: .3 + 0 + .1 + .4 + 1 = 1.8 -> 0.36; over the kept (v0, v1): .15
    assert neg["mean_delta_p"] == pytest.approx(0.36) and neg["kept_mean_delta_p"] == pytest.approx(0.15)
    assert neg["kept_mean_delta_r"] == pytest.approx(0.25)
    assert stats["second"]["kept"] == 2
    assert stats["mean_autodq"]["clean"]["precision"] == pytest.approx((0.8 + 0.6 + 0.5 + 0.9 + 1.0) / 5)
    assert pair_statistics(ROWS, delta=0.0)["negative"]["kept"] == 3  # δ is the report's to choose
    assert "negative" not in pair_statistics([])
