"""Sequential Elo with the paper's Table 9 parameters, and its shuffled-order bootstrap."""

import random

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.elo import elo_bootstrap, elo_ratings, expected_score


def test_expected_score_hand_values():
    """Equal ratings 0.5; 400 ahead 1/(1 + 10^-1) = 10/11; symmetric."""
    assert expected_score(1000, 1000) == 0.5
    assert expected_score(1400, 1000) == pytest.approx(10 / 11)
    assert expected_score(1000, 1400) == pytest.approx(1 / 11)


def test_three_match_sequence_hand_computed():
    """Table 9: init 1000, base 10, scale 400, K 8. Matches in order:
    1. x beats y: E = 0.5 -> x = 1000 + 8·0.5 = 1004, y = 996.
    2. y draws z: E_y = 1/(1 + 10^(4/400)) = 1/(1 + 1.0232930) = 0.4942438;
       y = 996 + 8·(0.5 - 0.4942438) = 996.0460497, z = 1000 - 0.0460497 = 999.9539503.
    3. z beats x: E_z = 1/(1 + 10^((1004 - 999.9539503)/400)) = 1/(1 + 10^0.0101151) = 0.4941775;
       z = 999.9539503 + 8·(1 - 0.4941775) = 1004.0005301, x = 1004 - 4.0465798 = 999.9534202."""
    ratings = elo_ratings([("x", "y", 1), ("y", "z", 0.5), ("z", "x", 1)])
    assert ratings == pytest.approx({"x": 999.9534202, "y": 996.0460497, "z": 1004.0005301}, abs=1e-6)
    assert list(ratings) == ["x", "y", "z"]
    assert sum(ratings.values()) == pytest.approx(3000.0)  # zero-sum updates


def test_loss_written_from_the_other_side_is_the_same_match():
    assert elo_ratings([("x", "y", 0)]) == elo_ratings([("y", "x", 1)])


def test_order_matters_for_sequential_elo():
    matches = [("x", "y", 1), ("x", "y", 1), ("y", "x", 1)]
    assert elo_ratings(matches)["x"] != pytest.approx(elo_ratings(matches[::-1])["x"])


def test_parameters_are_used():
    """K 16: one win from equal ratings moves 8 points; scale/base change the expectation."""
    assert elo_ratings([("x", "y", 1)], k=16, init=1500) == {"x": 1508.0, "y": 1492.0}
    first = [("x", "y", 1)]
    assert elo_ratings(first + [("x", "y", 1)], scale=200)["x"] < elo_ratings(first + [("x", "y", 1)])["x"]


def test_no_matches():
    assert elo_ratings([]) == {}
    assert elo_bootstrap([]) == {}


@pytest.mark.parametrize(
    "matches, cause",
    [
        ([("x", "x", 1)], "against itself"),
        ([("x", "y", 2)], "1, 0.5 or 0"),
        ([("x", "y", 0.7)], "1, 0.5 or 0"),
        ([("x", "", 1)], "non-empty names"),
        ([("x", "y")], "not \\(a, b, result\\)"),
    ],
)
def test_rejects_bad_matches(matches, cause):
    with pytest.raises(MetricInputError, match=cause):
        elo_ratings(matches)


def test_rejects_bad_parameters():
    with pytest.raises(MetricInputError):
        elo_ratings([("x", "y", 1)], k=0)
    with pytest.raises(MetricInputError):
        elo_ratings([("x", "y", 1)], base=1)
    with pytest.raises(MetricInputError, match="unknown arguments"):
        elo_bootstrap([("x", "y", 1)], kk=8)
    with pytest.raises(MetricInputError, match="rounds"):
        elo_bootstrap([("x", "y", 1)], rounds=0)
    with pytest.raises(MetricInputError, match="ci"):
        elo_bootstrap([("x", "y", 1)], ci=1.0)


def _tournament(seed: int = 0, n: int = 180):
    """180 simulated votes (the paper's count) where model strengths are a > b > c."""
    rng = random.Random(seed)
    strength = {"a": 0.75, "b": 0.5, "c": 0.3}
    matches = []
    for _ in range(n):
        x, y = rng.sample(sorted(strength), 2)
        p = strength[x] / (strength[x] + strength[y])
        matches.append((x, y, 1.0 if rng.random() < p else 0.0))
    return matches


def test_bootstrap_interval_contains_median_and_is_deterministic():
    matches = _tournament()
    boot = elo_bootstrap(matches, rounds=200, seed=1)
    assert boot == elo_bootstrap(matches, rounds=200, seed=1)
    assert boot != elo_bootstrap(matches, rounds=200, seed=2)
    for stats in boot.values():
        assert stats["low"] <= stats["rating"] <= stats["high"]
        assert stats["low"] < stats["high"]  # order changes the result
    assert boot["a"]["rating"] > boot["b"]["rating"] > boot["c"]["rating"]
    # shuffling conserves the total: ratings stay around the 1000 mean
    assert sum(s["rating"] for s in boot.values()) / 3 == pytest.approx(1000, abs=5)


def test_bootstrap_identical_matches_have_no_spread():
    """Every order of ten identical matches is the same sequence: low = rating = high."""
    matches = [("x", "y", 1)] * 10
    expected = elo_ratings(matches)
    boot = elo_bootstrap(matches, rounds=20)
    for name in ("x", "y"):
        assert (
            boot[name]["low"] == boot[name]["rating"] == boot[name]["high"] == pytest.approx(expected[name])
        )


def test_resampling_widens_the_interval():
    matches = _tournament(seed=3)
    shuffled = elo_bootstrap(matches, rounds=300, seed=0)
    resampled = elo_bootstrap(matches, rounds=300, seed=0, resample=True)
    width = lambda b: sum(s["high"] - s["low"] for s in b.values())  # noqa: E731
    assert width(resampled) > width(shuffled)


def test_bootstrap_passes_elo_parameters():
    boot = elo_bootstrap([("x", "y", 1)], rounds=5, k=16, init=0)
    assert boot["x"]["rating"] == pytest.approx(8.0)
