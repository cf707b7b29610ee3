"""Event error rates (video-SALMONN 2, App. F), pooling and the median-of-runs protocol."""

import random
import statistics

import numpy as np
import pytest

from avcap.errors import DataError
from avcap.metrics import MetricInputError
from avcap.metrics.events import EventCounts, item_error_rates, median_run, pooled_error_rates, run_summary


def test_item_rates_hand_computed():
    """34 events (the test set's average), 5 missing, 2 incorrect, 3 hallucinated:
    miss = 5/34 = 0.147059, hall = (2 + 3)/34 = 0.147059, total = 10/34 = 0.294118."""
    rates = item_error_rates(EventCounts(n_events=34, n_missing=5, n_incorrect=2, n_hallucinated=3))
    assert rates == pytest.approx({"miss": 5 / 34, "hall": 5 / 34, "total": 10 / 34})
    assert rates["total"] == pytest.approx(0.294118, abs=1e-6)


def test_hallucination_rate_can_exceed_one():
    """Hallucinated events come from the caption, so 2 events with 5 invented ones gives hall = 2.5."""
    rates = item_error_rates(EventCounts(2, 0, 0, 5))
    assert rates == {"miss": 0.0, "hall": 2.5, "total": 2.5}


def test_perfect_and_empty_captions():
    assert item_error_rates(EventCounts(7, 0, 0, 0)) == {"miss": 0.0, "hall": 0.0, "total": 0.0}
    assert item_error_rates(EventCounts(7, 7, 0, 0)) == {"miss": 1.0, "hall": 0.0, "total": 1.0}


def test_item_without_events_raises_not_nan():
    with pytest.raises(MetricInputError, match="no ground-truth events"):
        item_error_rates(EventCounts(0, 0, 0, 3))


@pytest.mark.parametrize(
    "args, cause",
    [
        ((-1, 0, 0, 0), ">= 0"),
        ((3, 2, 2, 0), "exceeds n_events"),
        ((3, 1.0, 0, 0), "integer"),
        ((3, True, 0, 0), "bool"),
        (("3", 0, 0, 0), "integer"),
    ],
)
def test_counts_are_validated(args, cause):
    with pytest.raises(MetricInputError, match=cause):
        EventCounts(*args)


def test_error_is_an_avcap_data_error_and_value_error():
    with pytest.raises(DataError):
        EventCounts(-1, 0, 0, 0)
    with pytest.raises(ValueError):
        EventCounts(-1, 0, 0, 0)


def test_numpy_integers_accepted_and_normalised():
    counts = EventCounts(np.int64(10), np.int32(1), np.int64(0), np.int16(2))
    assert type(counts.n_events) is int and counts.n_hallucinated == 2


def test_pooled_is_micro_average_hand_computed():
    """Item A: 10 events, 1 missing, 1 hallucinated; item B: 30 events, 3 missing, 2 incorrect.
    Pooled: miss = 4/40 = 0.1, hall = 3/40 = 0.075, total = 0.175.
    The per-item mean would differ: A total 0.2, B total 5/30, mean 0.18333."""
    items = [EventCounts(10, 1, 0, 1), EventCounts(30, 3, 2, 0)]
    pooled = pooled_error_rates(items)
    assert pooled["miss"] == pytest.approx(0.1)
    assert pooled["hall"] == pytest.approx(0.075)
    assert pooled["total"] == pytest.approx(0.175)
    assert (pooled["n_items"], pooled["n_events"], pooled["n_missing"]) == (2, 40, 4)
    assert (pooled["n_incorrect"], pooled["n_hallucinated"]) == (2, 1)
    macro = statistics.fmean(item_error_rates(c)["total"] for c in items)
    assert macro == pytest.approx(0.183333, abs=1e-6) and macro != pytest.approx(pooled["total"])


def test_pooled_matches_naive_sums_on_random_sets():
    rng = random.Random(3)
    for _ in range(50):
        items = []
        for _ in range(rng.randint(1, 20)):
            n = rng.randint(1, 40)
            missing = rng.randint(0, n)
            items.append(EventCounts(n, missing, rng.randint(0, n - missing), rng.randint(0, 10)))
        total_events = sum(c.n_events for c in items)
        expected_miss = sum(c.n_missing for c in items) / total_events
        expected_hall = sum(c.n_incorrect + c.n_hallucinated for c in items) / total_events
        pooled = pooled_error_rates(items)
        assert pooled["miss"] == pytest.approx(expected_miss)
        assert pooled["hall"] == pytest.approx(expected_hall)
        assert pooled["total"] == pytest.approx(expected_miss + expected_hall)


def test_pooled_includes_items_without_events():
    """An item with 0 events still adds its 2 hallucinations: hall = 2/10."""
    pooled = pooled_error_rates([EventCounts(10, 0, 0, 0), EventCounts(0, 0, 0, 2)])
    assert pooled["hall"] == pytest.approx(0.2) and pooled["n_items"] == 2


def test_pooled_rejects_empty_and_wrong_types():
    with pytest.raises(MetricInputError, match="hold no ground-truth events"):
        pooled_error_rates([])
    with pytest.raises(MetricInputError, match="hold no ground-truth events"):
        pooled_error_rates([EventCounts(0, 0, 0, 1)])
    with pytest.raises(MetricInputError, match="item 1 is tuple"):
        pooled_error_rates([EventCounts(1, 0, 0, 0), (1, 0, 0, 0)])


def test_median_run_of_seven():
    """Totals of 7 runs; sorted: 0.30(1) 0.31(4) 0.32(6) 0.33(0) 0.34(3) 0.35(5) 0.36(2) -> run 0."""
    totals = [0.33, 0.30, 0.36, 0.34, 0.31, 0.35, 0.32]
    assert median_run([{"total": t} for t in totals]) == 0


def test_median_run_even_count_takes_lower_median():
    """Sorted 0.1(1) 0.2(3) 0.3(2) 0.4(0): positions 1 and 2 straddle the median; (4-1)//2 = 1 -> run 3."""
    assert median_run([{"total": 0.4}, {"total": 0.1}, {"total": 0.3}, {"total": 0.2}]) == 3


def test_median_run_ties_follow_run_order():
    """All equal: ordered by index, position (5-1)//2 = 2 -> run 2; one run -> run 0."""
    assert median_run([{"total": 0.25}] * 5) == 2
    assert median_run([{"total": 0.25}]) == 0


def test_median_run_brute_force():
    rng = random.Random(11)
    for _ in range(200):
        totals = [rng.choice([0.1, 0.2, 0.3, rng.random()]) for _ in range(rng.randint(1, 9))]
        index = median_run([{"total": t, "miss": 0.0} for t in totals])
        assert totals[index] == sorted(totals)[(len(totals) - 1) // 2]
        # no more than half of the runs lie strictly below the chosen one
        assert sum(t < totals[index] for t in totals) <= (len(totals) - 1) // 2


def test_median_run_rejects_bad_runs():
    with pytest.raises(MetricInputError, match="no runs"):
        median_run([])
    with pytest.raises(MetricInputError, match="run 1 has no 'total'"):
        median_run([{"total": 0.1}, {"miss": 0.1}])
    with pytest.raises(MetricInputError, match="finite"):
        median_run([{"total": float("nan")}])


def test_run_summary_hand_computed():
    """Runs (miss, hall, total): (0.1, 0.2, 0.3), (0.2, 0.2, 0.4), (0.1, 0.1, 0.2).
    Median total 0.3 -> run 0. Mean total 0.3, sample std of totals sqrt(((0)^2+0.1^2+0.1^2)/2) = 0.1."""
    runs = [
        {"miss": 0.1, "hall": 0.2, "total": 0.3, "n_items": 483},
        {"miss": 0.2, "hall": 0.2, "total": 0.4, "n_items": 483},
        {"miss": 0.1, "hall": 0.1, "total": 0.2, "n_items": 483},
    ]
    summary = run_summary(runs)
    assert summary["median_index"] == 0
    assert summary["median"] == runs[0] and summary["median"] is not runs[0]
    assert summary["mean"] == pytest.approx({"miss": 0.4 / 3, "hall": 0.5 / 3, "total": 0.3})
    assert summary["std"]["total"] == pytest.approx(0.1)
    assert summary["std"]["hall"] == pytest.approx(statistics.stdev([0.2, 0.2, 0.1]))
    assert summary["n_runs"] == 3 and summary["runs"] == runs


def test_run_summary_single_run_and_missing_key():
    summary = run_summary([{"miss": 0.1, "hall": 0.1, "total": 0.2}])
    assert summary["std"] == {"miss": 0.0, "hall": 0.0, "total": 0.0}
    with pytest.raises(MetricInputError, match="run 0 has no 'hall'"):
        run_summary([{"miss": 0.1, "total": 0.2}])
