"""Bootstrap intervals and the paired test against exhaustive enumeration of every resample."""

import itertools

import numpy as np
import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.bootstrap import bootstrap_ci, group_indices, paired_bootstrap, resample_groups, run_spread


def singletons(n):
    return [np.array([i]) for i in range(n)]


def test_run_spread_matches_numpy():
    values = [0.31, 0.27, 0.35, 0.29, 0.33, 0.30, 0.28]
    out = run_spread(values)
    assert out["median"] == np.median(values) and out["mean"] == pytest.approx(np.mean(values))
    assert out["std"] == pytest.approx(np.std(values, ddof=1)) and run_spread([0.5])["std"] == 0.0
    with pytest.raises(MetricInputError):
        run_spread([])


def test_bootstrap_of_a_mean_matches_the_exact_bootstrap_distribution():
    x = np.array([0.1, 0.7, 0.3, 0.9])
    # Exact: all 4^4 equally likely resamples.
    exact = np.array([x[list(idx)].mean() for idx in itertools.product(range(4), repeat=4)])
    out = bootstrap_ci(lambda idx: x[idx].mean(), singletons(4), n_boot=20000, seed=1)["value"]
    assert out["se"] == pytest.approx(exact.std(), rel=0.03)
    support = np.unique(exact)
    for got, q in ((out["low"], 0.025), (out["high"], 0.975)):
        want = np.quantile(exact, q)
        nearest = support[np.searchsorted(support, want) - 1: np.searchsorted(support, want) + 1]
        assert min(abs(got - nearest)) < 0.051  # within one support step of the exact quantile


def test_groups_travel_together_and_strata_keep_their_size():
    groups = group_indices(["a", "b", "b", "b"])  # a video with 1 question, one with 3
    assert [g.tolist() for g in groups] == [[0], [1, 2, 3]]
    sizes = bootstrap_ci(lambda idx: float(idx.size), groups, n_boot=300, seed=0)["value"]
    assert sizes["low"] >= 2 and sizes["high"] <= 6
    draws = resample_groups(6, 500, np.random.default_rng(0), strata=["s", "s", "t", "t", "t", "u"])
    assert np.all(np.isin(draws[:, :2], [0, 1])) and np.all(np.isin(draws[:, 2:5], [2, 3, 4])) and np.all(draws[:, 5] == 5)


def test_paired_p_value_matches_exhaustive_enumeration():
    a = np.array([0.9, 0.8, 0.75, 0.6, 0.95])
    b = np.array([0.7, 0.85, 0.5, 0.55, 0.6])
    d = a - b
    observed = d.mean()
    every = np.array([d[list(idx)].mean() for idx in itertools.product(range(5), repeat=5)])
    exact_p = np.mean(np.abs(every - observed) >= abs(observed))
    out = paired_bootstrap(lambda idx: a[idx].mean(), lambda idx: b[idx].mean(), singletons(5), n_boot=20000, seed=3)
    m = out["value"]
    assert m["difference"] == pytest.approx(observed) and (m["a"], m["b"]) == pytest.approx((a.mean(), b.mean()))
    assert m["p_value"] == pytest.approx(exact_p, abs=0.01)
    assert m["low"] < observed < m["high"]
    same = paired_bootstrap(lambda idx: a[idx].mean(), lambda idx: a[idx].mean(), singletons(5), n_boot=200)["value"]
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_reproducible_and_undefined_replicates_are_counted():
    stat = lambda idx: {"m": float(idx.mean()), "odd": np.nan if idx.min() > 0 else 1.0}  # noqa: E731
    one = bootstrap_ci(stat, singletons(3), n_boot=400, seed=7)
    assert one == bootstrap_ci(stat, singletons(3), n_boot=400, seed=7)
    assert 0 < one["odd"]["n_undefined"] < 400  # draws without item 0 have no value: left out, counted
    with pytest.raises(MetricInputError):
        bootstrap_ci(stat, [], n_boot=10)
