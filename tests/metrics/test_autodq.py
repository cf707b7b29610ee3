"""AutoDQ per-video P/R and DREAM-1K aggregation, checked against Tarsier2's Table 1."""

import random

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.autodq import autodq_aggregate, autodq_item, f1


def test_f1_hand_values():
    """2·0.5·1/(1.5) = 2/3; equal P and R give that value; 0 and 0 give 0, not NaN."""
    assert f1(0.5, 1.0) == pytest.approx(2 / 3)
    assert f1(0.4, 0.4) == pytest.approx(0.4)
    assert f1(0.0, 0.0) == 0.0
    assert f1(0.0, 1.0) == 0.0


def test_f1_rejects_negative_and_nan():
    with pytest.raises(MetricInputError):
        f1(-0.1, 0.5)
    with pytest.raises(MetricInputError):
        f1(float("nan"), 0.5)


def test_item_hand_values():
    """4 reference events, 1 entailed by the prediction: recall 0.25;
    5 predicted events, 3 entailed by the reference: precision 0.6."""
    assert autodq_item(4, 1, 5, 3) == (0.6, 0.25)


def test_empty_event_lists_score_one():
    assert autodq_item(0, 0, 0, 0) == (1.0, 1.0)
    assert autodq_item(3, 0, 0, 0) == (1.0, 0.0)  # nothing predicted: nothing wrong, all missed
    assert autodq_item(0, 0, 2, 1) == (0.5, 1.0)


def test_item_rejects_impossible_counts():
    with pytest.raises(MetricInputError, match="exceeds"):
        autodq_item(2, 3, 1, 0)
    with pytest.raises(MetricInputError, match="exceeds"):
        autodq_item(2, 1, 1, 2)
    with pytest.raises(MetricInputError, match=">= 0"):
        autodq_item(-1, 0, 1, 0)


# Tarsier2, Table 1: (precision, recall) per source and the printed F1 / overall F/P/R (%).
SOURCES = ("live-action", "animation", "stock", "youtube", "shorts")
TABLE1 = {
    "Tarsier2-7B": (
        [(41.9, 47.3), (39.5, 39.1), (45.4, 46.0), (38.4, 33.9), (48.9, 39.4)],
        [44.4, 39.3, 45.7, 36.0, 43.7],
        (42.0, 42.8, 41.1),
    ),
    "GPT-4o": (
        [(42.1, 37.8), (39.1, 33.1), (46.6, 41.7), (41.5, 31.7), (47.9, 34.2)],
        [39.8, 35.8, 44.0, 35.9, 39.9],
        (39.2, 43.4, 35.7),
    ),
}


@pytest.mark.parametrize("model", sorted(TABLE1))
def test_reproduces_tarsier2_table1(model):
    """Each source gets two videos whose P/R average to the printed values. The printed P and R
    are rounded to 0.1, so recomputed F1s may differ from the printed ones by up to 0.1
    (Shorts: F1(48.9, 39.4) = 43.64, printed 43.7). Overall P and R are means over sources and
    overall F1 is F1 of those (Tarsier2-7B: F1(42.82, 41.14) = 41.96 -> printed 42.0); the mean
    of the per-source F1s (41.82) would be off by more than the rounding allows."""
    per_source, printed_f1, (overall_f, overall_p, overall_r) = TABLE1[model]
    items = []
    for source, (p, r) in zip(SOURCES, per_source):
        items += [(source, (p + 5) / 100, (r - 5) / 100), (source, (p - 5) / 100, (r + 5) / 100)]
    out = autodq_aggregate(items)
    for source, (p, r), f in zip(SOURCES, per_source, printed_f1):
        got = out["per_source"][source]
        assert got["precision"] == pytest.approx(p / 100) and got["recall"] == pytest.approx(r / 100)
        assert 100 * got["f1"] == pytest.approx(f, abs=0.1)
        assert got["n_items"] == 2
    assert 100 * out["overall"]["f1"] == pytest.approx(overall_f, abs=0.05)
    assert 100 * out["overall"]["precision"] == pytest.approx(overall_p, abs=0.05)
    assert 100 * out["overall"]["recall"] == pytest.approx(overall_r, abs=0.05)
    assert out["overall"]["n_items"] == 10 and out["overall"]["n_sources"] == 5
    mean_of_f1 = sum(s["f1"] for s in out["per_source"].values()) / 5
    if model == "Tarsier2-7B":  # the definition the paper does NOT use
        assert abs(100 * mean_of_f1 - overall_f) > 0.1


def test_aggregate_matches_naive_on_random_sets():
    rng = random.Random(5)
    for _ in range(30):
        items = [(rng.choice("abc"), rng.random(), rng.random()) for _ in range(rng.randint(1, 30))]
        out = autodq_aggregate(items)
        sources = sorted({s for s, _, _ in items})
        means = {}
        for s in sources:
            ps = [p for src, p, _ in items if src == s]
            rs = [r for src, _, r in items if src == s]
            means[s] = (sum(ps) / len(ps), sum(rs) / len(rs))
            assert out["per_source"][s]["f1"] == pytest.approx(f1(*means[s]))
        overall_p = sum(m[0] for m in means.values()) / len(means)
        overall_r = sum(m[1] for m in means.values()) / len(means)
        assert out["overall"]["precision"] == pytest.approx(overall_p)
        assert out["overall"]["f1"] == pytest.approx(f1(overall_p, overall_r))
        assert list(out["per_source"]) == list(dict.fromkeys(s for s, _, _ in items))


def test_aggregate_rejects_bad_items():
    with pytest.raises(MetricInputError, match="no items"):
        autodq_aggregate([])
    with pytest.raises(MetricInputError, match=r"\[0, 1\]"):
        autodq_aggregate([("a", 42.0, 0.5)])  # a percentage where a fraction belongs
    with pytest.raises(MetricInputError, match="item 0 is not"):
        autodq_aggregate([("a", 0.5)])
    with pytest.raises(MetricInputError, match="no source"):
        autodq_aggregate([("", 0.5, 0.5)])
