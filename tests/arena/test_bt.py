"""Bradley–Terry against independent references on votes simulated from known strengths."""

import math

import numpy as np
import pytest

from avcap.arena.bt import POINTS_PER_LOGIT, bt_bootstrap, bt_fit, length_feature, make_battles, to_rating
from avcap.metrics._checks import MetricInputError

TRUE = {"A": 1.0, "B": 0.4, "C": -0.2, "D": -1.2}  # log-odds strengths, summing to 0


def simulate(n: int, seed: int, strengths=TRUE, tie_rate: float = 0.0):
    rng = np.random.default_rng(seed)
    names = list(strengths)
    out = []
    for _ in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[i], names[j]
        if rng.random() < tie_rate:
            out.append((a, b, 0.5))
            continue
        p = 1 / (1 + math.exp(-(strengths[a] - strengths[b])))
        out.append((a, b, 1.0 if rng.random() < p else 0.0))
    return out


def mm_reference(matches):
    """Hunter's (2004) minorise-maximise iteration, ties as half a win to each side.

    p_i <- W_i / sum_j n_ij / (p_i + p_j): a different algorithm from the Newton fit, on
    win counts instead of per-battle rows.
    """
    names = sorted({m for a, b, _ in matches for m in (a, b)})
    k = {m: i for i, m in enumerate(names)}
    wins, games = np.zeros(len(names)), np.zeros((len(names), len(names)))
    for a, b, r in matches:
        wins[k[a]] += r
        wins[k[b]] += 1 - r
        games[k[a], k[b]] += 1
        games[k[b], k[a]] += 1
    p = np.ones(len(names))
    for _ in range(20000):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = wins / denom
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(new - p)) < 1e-13:
            break
        p = new
    return {m: float(np.log(p[k[m]])) for m in names}


def test_two_models_closed_form():
    # With only a vs b, the MLE is beta_a - beta_b = ln(W / L): 3 wins, 1 loss -> ln 3.
    battles = make_battles([("a", "b", 1), ("a", "b", 1), ("b", "a", 0), ("a", "b", 0)])
    beta, gamma = bt_fit(battles, ridge=0)
    assert beta[0] - beta[1] == pytest.approx(math.log(3), abs=1e-9)
    assert beta.sum() == pytest.approx(0, abs=1e-12) and gamma.shape == (0,)
    assert to_rating(beta)[0] == pytest.approx(1000 + POINTS_PER_LOGIT * math.log(3) / 2)
    # ...and 400 rating points are 10:1 odds (Table 9's base and scale).
    assert POINTS_PER_LOGIT * math.log(10) == pytest.approx(400)


def test_newton_matches_mm_with_ties():
    matches = simulate(3000, seed=1, tie_rate=0.15)
    battles = make_battles(matches)
    beta, _ = bt_fit(battles, ridge=0)
    ref = mm_reference(matches)
    for i, name in enumerate(battles.models):
        assert beta[i] == pytest.approx(ref[name], abs=1e-7)
    # the default ridge moves the estimate by far less than its sampling noise
    np.testing.assert_allclose(bt_fit(battles)[0], beta, atol=1e-3)


def test_fit_recovers_true_strengths():
    battles = make_battles(simulate(3000, seed=5))
    beta, _ = bt_fit(battles)
    for i, name in enumerate(battles.models):
        assert beta[i] == pytest.approx(TRUE[name], abs=0.15)  # SE ~0.06


def _numeric_se(matches, models):
    """Standard errors from a finite-difference Hessian of the log-likelihood (B fixed at the mean)."""
    battles = make_battles(matches, models=models)
    beta, _ = bt_fit(battles, ridge=0)
    a, b, y = battles.a, battles.b, battles.y

    def loglik(free):  # parameters: all but the last model, last = -sum(others)
        full = np.append(free, -free.sum())
        d = full[a] - full[b]
        return float(np.sum(y * -np.logaddexp(0, -d) + (1 - y) * -np.logaddexp(0, d)))

    x0, h, k = beta[:-1], 1e-4, len(beta) - 1
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (loglik(x0 + e_i + e_j) - loglik(x0 + e_i - e_j) - loglik(x0 - e_i + e_j)
                          + loglik(x0 - e_i - e_j)) / (4 * h * h)
    cov = np.linalg.inv(-hess)
    # var of the last model = var(-sum others) = 1' cov 1
    variances = np.append(np.diag(cov), cov.sum())
    return np.sqrt(variances) * POINTS_PER_LOGIT


def test_bootstrap_interval_width_matches_fisher_information_and_covers_truth():
    matches = simulate(2000, seed=2)
    battles = make_battles(matches, models=list(TRUE))
    result = bt_bootstrap(battles, rounds=600, seed=0)
    se = _numeric_se(matches, list(TRUE))
    half_width = (result.high - result.low) / 2
    # A 95 % percentile interval is +-1.96 SE for a near-normal estimator.
    np.testing.assert_allclose(half_width, 1.96 * se, rtol=0.2)
    truth = to_rating(np.array(list(TRUE.values())))
    assert np.all((result.low <= truth) & (truth <= result.high))
    assert np.all((result.low < result.rating) & (result.rating < result.high))
    assert result.rank_upper() == [1, 2, 3, 4]


def test_bootstrap_is_deterministic_and_seed_dependent():
    battles = make_battles(simulate(300, seed=3))
    r1, r2 = bt_bootstrap(battles, rounds=50, seed=7), bt_bootstrap(battles, rounds=50, seed=7)
    np.testing.assert_array_equal(r1.low, r2.low)
    assert not np.array_equal(bt_bootstrap(battles, rounds=50, seed=8).low, r1.low)


def test_bootstrap_coverage_over_repeated_experiments():
    """Over 30 independent vote sets x 4 models, the 95 % intervals cover the true rating ~95 % of the time."""
    truth = to_rating(np.array(list(TRUE.values())))
    covered = 0
    for s in range(30):
        res = bt_bootstrap(make_battles(simulate(240, seed=1000 + s), models=list(TRUE)), rounds=100, seed=s)
        covered += int(np.sum((res.low <= truth) & (truth <= res.high)))
    assert 104 <= covered <= 120  # expected 114 of 120, binomial sd ~2.4 (60 sets: 94.6 %)


def length_biased_votes(n: int, seed: int, gamma: float):
    """Voters who like long captions: the strongest model writes the shortest ones."""
    strengths = {"terse": 0.6, "medium": 0.0, "verbose": -0.6}
    mean_words = {"terse": 40, "medium": 70, "verbose": 120}
    rng = np.random.default_rng(seed)
    names = list(strengths)
    matches, la, lb = [], [], []
    for _ in range(n):
        i, j = rng.choice(3, 2, replace=False)
        a, b = names[i], names[j]
        wa, wb = (max(5, int(rng.normal(mean_words[m], 0.3 * mean_words[m]))) for m in (a, b))
        ratio = (wa - wb) / (wa + wb)
        p = 1 / (1 + math.exp(-(strengths[a] - strengths[b] + gamma * ratio)))
        matches.append((a, b, 1.0 if rng.random() < p else 0.0))
        la.append(wa)
        lb.append(wb)
    return matches, la, lb, strengths


def test_length_control_recovers_true_order_from_length_biased_voters():
    matches, la, lb, strengths = length_biased_votes(4000, seed=4, gamma=6.0)
    plain = bt_bootstrap(make_battles(matches), rounds=100, seed=0)
    plain_order = [plain.models[i] for i in np.argsort(-plain.rating)]
    assert plain_order[0] == "verbose"  # length bias wins the uncontrolled ranking
    z = length_feature(la, lb)
    lc = bt_bootstrap(make_battles(matches, z), rounds=100, seed=0)
    lc_order = [lc.models[i] for i in np.argsort(-lc.rating)]
    assert lc_order == ["terse", "medium", "verbose"]
    assert lc.gamma_low[0] > 0  # the length effect is found, with an interval above 0
    rms = float(np.sqrt(np.mean(((np.array(la) - np.array(lb)) / (np.array(la) + np.array(lb))) ** 2)))
    assert lc.gamma[0] == pytest.approx(6.0 * rms, rel=0.25)  # gamma is per RMS of the ratio
    for i, name in enumerate(lc.models):
        assert (lc.rating[i] - 1000) / POINTS_PER_LOGIT == pytest.approx(strengths[name], abs=0.2)


def test_length_feature_is_antisymmetric_and_scaled():
    z = length_feature([10, 30, 20], [30, 10, 20])
    np.testing.assert_allclose(z[:, 0], -length_feature([30, 10, 20], [10, 30, 20])[:, 0])
    assert float(np.sqrt(np.mean(z**2))) == pytest.approx(1.0)
    assert z[2, 0] == 0
    np.testing.assert_array_equal(length_feature([0, 0], [0, 0]), np.zeros((2, 1)))


def test_separation_stays_finite_and_model_absent_from_a_round():
    # "x" won every vote: without the ridge the MLE would be infinite.
    battles = make_battles([("x", "y", 1)] * 5 + [("y", "z", 1), ("z", "y", 1)])
    res = bt_bootstrap(battles, rounds=200, seed=0)
    assert np.all(np.isfinite(res.rating)) and np.all(np.isfinite(res.low))
    assert res.rating[0] > res.rating[1]


def test_bad_input():
    with pytest.raises(MetricInputError, match="against itself"):
        make_battles([("a", "a", 1)])
    with pytest.raises(MetricInputError, match="1, 0.5 or 0"):
        make_battles([("a", "b", 0.7)])
    with pytest.raises(MetricInputError, match="no battles"):
        bt_bootstrap(make_battles([]))
    with pytest.raises(MetricInputError, match="unknown model"):
        make_battles([("a", "q", 1)], models=["a", "b"])
