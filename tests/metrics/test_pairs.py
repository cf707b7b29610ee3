"""MrDPO pair selection by video-SALMONN 2 Table 6."""

import itertools
import random

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.pairs import TABLE6_THRESHOLDS, round_thresholds, select_pair


def test_table6_transcription():
    """Table 6: round 1 Δe >= 5 %, Δr >= 1 %; round 2 Δe >= 20 %, Δr >= -1 %; rounds 3-6 Δe >= 23 %, Δr >= -1 %."""
    assert dict(TABLE6_THRESHOLDS) == {
        1: (0.05, 0.01),
        2: (0.20, -0.01),
        3: (0.23, -0.01),
        4: (0.23, -0.01),
        5: (0.23, -0.01),
        6: (0.23, -0.01),
    }
    with pytest.raises(TypeError):
        TABLE6_THRESHOLDS[7] = (0.0, 0.0)  # read-only


def test_round_thresholds_lookup():
    assert round_thresholds(2) == (0.20, -0.01)
    assert round_thresholds(7) == (0.23, -0.01)  # beyond the paper's six rounds: last row
    assert round_thresholds(3, (0.1, 0.0)) == (0.1, 0.0)
    assert round_thresholds(5, {1: (0.1, 0.0), 3: (0.3, 0.0)}) == (0.3, 0.0)
    with pytest.raises(MetricInputError, match="1-based"):
        round_thresholds(0)
    with pytest.raises(MetricInputError, match="no thresholds for round 2"):
        round_thresholds(2, {1: (0.1, 0.0), 3: (0.3, 0.0)})
    with pytest.raises(MetricInputError, match="pairs"):
        round_thresholds(1, (0.1,))


def test_round1_hand_cases():
    """Round 1 needs Δe >= 0.05 and Δr >= 0.01.
    (0.40, 0.03) vs (0.30, 0.01): Δe 0.10, Δr 0.02 -> chosen 1, rejected 0.
    (0.40, 0.01) vs (0.30, 0.01): Δr 0 < 0.01 -> none.
    (0.33, 0.05) vs (0.30, 0.00): Δe 0.03 < 0.05 -> none."""
    assert select_pair([(0.40, 0.03), (0.30, 0.01)], 1) == (1, 0)
    assert select_pair([(0.40, 0.01), (0.30, 0.01)], 1) is None
    assert select_pair([(0.33, 0.05), (0.30, 0.00)], 1) is None


def test_later_rounds_allow_slightly_worse_repetition():
    """Round 2: Δe 0.25 >= 0.20 and Δr = 0.02 - 0.03 = -0.01 >= -0.01 -> kept; Δr = -0.02 -> dropped."""
    assert select_pair([(0.30, 0.03), (0.55, 0.02)], 2) == (0, 1)
    assert select_pair([(0.30, 0.04), (0.55, 0.02)], 2) is None
    assert select_pair([(0.30, 0.00), (0.52, 0.00)], 3) is None  # 0.22 < 0.23


def test_threshold_equality_despite_float_rounding():
    """0.30 - 0.25 is 0.04999999999999999 in floating point; Table 6 says >= 5 %, so it must pass."""
    assert 0.30 - 0.25 < 0.05
    assert select_pair([(0.25, 0.00), (0.30, 0.01)], 1) == (0, 1)


def test_chosen_always_strictly_better_even_with_permissive_thresholds():
    assert select_pair([(0.3, 0.0), (0.3, 0.0)], 1, thresholds=(-1.0, -1.0)) is None
    assert select_pair([(0.3, 0.0), (0.2, 0.0)], 1, thresholds=(-1.0, -1.0)) == (1, 0)


def test_many_samples_pick_largest_error_gap():
    """Errors 0.5, 0.2, 0.8, 0.3 (no repetition, round 2): best gap is 0.8 - 0.2 -> (1, 2)."""
    samples = [(0.5, 0.0), (0.2, 0.0), (0.8, 0.0), (0.3, 0.0)]
    assert select_pair(samples, 2) == (1, 2)


def test_against_brute_force():
    rng = random.Random(7)
    for _ in range(300):
        samples = [
            (rng.choice([0.1, 0.2, 0.3]) + rng.random() / 2, rng.random() / 20)
            for _ in range(rng.randint(0, 5))
        ]
        round_index = rng.randint(1, 7)
        min_e, min_r = round_thresholds(round_index)
        ok = [
            (samples[j][0] - samples[c][0], samples[j][1] - samples[c][1], c, j)
            for c, j in itertools.permutations(range(len(samples)), 2)
            if samples[j][0] - samples[c][0] >= min_e - 1e-9 and samples[j][1] - samples[c][1] >= min_r - 1e-9
        ]
        got = select_pair(samples, round_index)
        if not ok:
            assert got is None
        else:
            best = max(ok, key=lambda t: (t[0], t[1], -t[2], -t[3]))
            assert got == (best[2], best[3])


@pytest.mark.parametrize(
    "samples, cause",
    [
        ([(0.1,)], "not \\(total_error"),
        ([(0.1, float("nan"))], "finite"),
        ([(-0.1, 0.0)], "negative"),
    ],
)
def test_rejects_bad_samples(samples, cause):
    with pytest.raises(MetricInputError, match=cause):
        select_pair(samples, 1)
