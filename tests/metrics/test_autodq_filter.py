"""Tarsier2's AutoDQ preference filter (eq. 1, δ = 0.3): hand-worked pairs, edges, bad input."""

import itertools

import pytest

from avcap.metrics._checks import MetricInputError
from avcap.metrics.autodq import TARSIER2_DELTA, autodq_deltas, autodq_item, keep_preference_pair


def _keep(chosen_counts, rejected_counts, delta=TARSIER2_DELTA):
    """Counts (n_ref, ref_entailed, n_pred, pred_entailed) of each caption -> kept?"""
    dp, dr = autodq_deltas(autodq_item(*chosen_counts), autodq_item(*rejected_counts))
    return keep_preference_pair(dp, dr, delta)


def test_paper_delta_is_point_three():
    assert TARSIER2_DELTA == 0.3


@pytest.mark.parametrize("chosen, rejected, kept, why", [
    # 5 reference events. chosen: R 4/5, P 3/4; rejected: R 2/5, P 2/4 -> ΔR .4, ΔP .25, sum .65
    ((5, 4, 4, 3), (5, 2, 4, 2), True, "better on both by 0.65"),
    # chosen: R 3/5, P 3/5; rejected: R 2/5, P 2/5 -> ΔR .2, ΔP .2: sum .4
    ((5, 3, 5, 3), (5, 2, 5, 2), True, "0.2 + 0.2"),
    # exactly δ from counts: chosen R 1/2 P 3/5, rejected R 2/5 P 2/5 ... in floats 0.29999999999999993
    ((2, 1, 5, 3), (5, 2, 5, 2), True, "0.1 + 0.2 = δ, kept despite float rounding"),
    # sum 0.2 < δ though both improve
    ((5, 3, 5, 3), (5, 2, 5, 3), False, "ΔR .2, ΔP 0: sum below δ"),
    # recall drops by 0.2 while precision rises by 0.75: the sum is large, the pair is still refused
    ((5, 1, 4, 4), (5, 2, 4, 1), False, "ΔR < 0"),
    # precision drops: the negative caption hallucinates less
    ((5, 5, 5, 2), (5, 1, 5, 3), False, "ΔP < 0"),
    # identical captions
    ((5, 2, 4, 2), (5, 2, 4, 2), False, "no difference"),
    # an empty rejected caption: no events -> P = 1 (official rule), R = 0; chosen P 0.5 -> ΔP < 0
    ((4, 4, 4, 2), (4, 0, 0, 0), False, "empty negative scores P = 1"),
])
def test_hand_worked_pairs(chosen, rejected, kept, why):
    assert _keep(chosen, rejected) is kept, why


def test_the_three_conditions_against_brute_force():
    """Every (ΔP, ΔR) on a grid of counts out of 4: kept iff both >= 0 and the sum >= δ."""
    grid = [i / 4 for i in range(5)]
    for pw, rw, pl, rl in itertools.product(grid, repeat=4):
        dp, dr = autodq_deltas((pw, rw), (pl, rl))
        exact_dp, exact_dr = round((pw - pl) * 4), round((rw - rl) * 4)  # quarters, exact integers
        expected = exact_dp >= 0 and exact_dr >= 0 and (exact_dp + exact_dr) / 4 >= 0.3
        assert keep_preference_pair(dp, dr) is expected, (pw, rw, pl, rl)


def test_delta_is_adjustable():
    assert keep_preference_pair(0.0, 0.0, delta=0.0)
    assert not keep_preference_pair(0.0, 0.0, delta=0.01)
    assert keep_preference_pair(0.5, 0.5, delta=1.0) and not keep_preference_pair(0.5, 0.49, delta=1.0)


def test_bad_input_names_the_argument():
    with pytest.raises(MetricInputError, match="chosen precision"):
        autodq_deltas((1.2, 0.5), (0.5, 0.5))
    with pytest.raises(MetricInputError, match="pairs"):
        autodq_deltas(0.5, (0.5, 0.5))
    with pytest.raises(MetricInputError, match="delta_p"):
        keep_preference_pair(float("nan"), 0.1)
    with pytest.raises(MetricInputError, match=r"\[-1, 1\]"):
        keep_preference_pair(1.5, 0.1)
