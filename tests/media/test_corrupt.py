"""Tarsier2 corruptions: seeded determinism and each kind's invariants."""

import math

import numpy as np
import pytest

from avcap.media.corrupt import CORRUPTIONS, corrupt, corrupt_frame_times, draw_kind, random_corruption

TIMES = [float(k) for k in range(16)]  # 16 frames, 1 s apart (Tarsier2's default N)
SEEDS = range(25)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_same_seed_same_result_and_seeds_vary(kind):
    assert corrupt_frame_times(TIMES, kind, seed=7) == corrupt_frame_times(TIMES, kind, seed=7)
    assert len({tuple(corrupt_frame_times(TIMES, kind, seed=s)) for s in SEEDS}) > 1
    assert TIMES == [float(k) for k in range(16)]  # input untouched


def test_exchange_swaps_two_of_four_segments():
    segments = [TIMES[i : i + 4] for i in range(0, 16, 4)]
    for seed in SEEDS:
        out = corrupt_frame_times(TIMES, "exchange", seed)
        got = [out[i : i + 4] for i in range(0, 16, 4)]
        moved = [i for i in range(4) if got[i] != segments[i]]
        assert len(moved) == 2
        a, b = moved
        assert got[a] == segments[b] and got[b] == segments[a]


def test_exchange_works_where_the_release_indexing_breaks():
    # N = 5: the release builds range(0, 5, 2) = 3 segment starts and can index a 4th.
    for seed in SEEDS:
        out = corrupt_frame_times(TIMES[:5], "exchange", seed)
        assert sorted(out) == TIMES[:5] and out != TIMES[:5]
    with pytest.raises(ValueError):
        corrupt_frame_times([1.0], "exchange", seed=0)


def test_reverse_flips_one_window_of_half_to_all_frames():
    for seed in SEEDS:
        out = corrupt_frame_times(TIMES, "reverse", seed)
        diff = [i for i in range(16) if out[i] != TIMES[i]]
        a, b = diff[0], diff[-1]
        assert out[a : b + 1] == TIMES[a : b + 1][::-1]
        assert out[:a] == TIMES[:a] and out[b + 1 :] == TIMES[b + 1 :]
        assert math.ceil(0.5 * 16) <= b - a + 1 <= 16


def test_crop_resamples_three_quarters_of_the_span():
    for seed in SEEDS:
        out = corrupt_frame_times(TIMES, "crop", seed)
        assert len(out) == 16 and out == sorted(out)
        # ceil(16 / 4) = 4 frames' worth dropped from the ends: the window spans 11 of 15 steps
        assert out[-1] - out[0] == pytest.approx(11.0)
        assert out[0] >= 0.0 and out[-1] <= 15.0
        assert np.allclose(np.diff(out), 11.0 / 15)


def test_discard_keeps_a_sorted_random_half():
    for seed in SEEDS:
        out = corrupt_frame_times(TIMES, "discard", seed)
        assert len(out) == 8 and out == sorted(out) and set(out) <= set(TIMES) and len(set(out)) == 8
    assert corrupt_frame_times([3.0], "discard", seed=0) == [3.0]  # at least one frame survives


def test_single_frame_and_bad_arguments():
    assert corrupt_frame_times([2.0], "reverse", seed=1) == [2.0]
    assert corrupt_frame_times([2.0], "crop", seed=1) == [2.0]
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt_frame_times(TIMES, "shuffle", seed=0)
    with pytest.raises(ValueError, match="no frame times"):
        corrupt_frame_times([], "reverse", seed=0)


def test_random_corruption_picks_each_kind_deterministically():
    picks = {seed: random_corruption(TIMES, seed) for seed in SEEDS}
    assert picks[3] == random_corruption(TIMES, 3)
    assert {kind for kind, _ in picks.values()} == set(CORRUPTIONS)
    for seed, (kind, out) in picks.items():
        assert out == corrupt_frame_times(TIMES, kind, seed)


def test_paper_crop_resamples_half_the_span_at_a_random_start():
    starts = set()
    for seed in SEEDS:
        c = corrupt(TIMES, "crop", seed, crop="paper")
        assert len(c.times) == 16 and c.indices is None and c.params["mode"] == "paper"
        assert c.times[-1] - c.times[0] == pytest.approx(7.5)  # half of the 15 s span
        assert 0.0 <= c.times[0] and c.times[-1] <= 15.0
        assert (c.params["start"], c.params["end"]) == pytest.approx((c.times[0], c.times[-1]))
        starts.add(round(c.times[0], 6))
    assert len(starts) > 5
    assert corrupt([2.0], "crop", 0, crop="paper").times == [2.0]
    with pytest.raises(ValueError, match="crop mode"):
        corrupt(TIMES, "crop", 0, crop="half")


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_recorded_parameters_reproduce_the_times(kind):
    for seed in SEEDS:
        c = corrupt(TIMES, kind, seed)
        assert c.times == corrupt_frame_times(TIMES, kind, seed)
        if c.indices is not None:  # reorder / drop kinds: the clean frames at these positions
            assert c.times == [TIMES[i] for i in c.indices]
        p = c.params
        if kind == "exchange":
            a, b = p["swapped"]
            assert c.times[4 * a : 4 * a + 4] == TIMES[4 * b : 4 * b + 4]
        elif kind == "reverse":
            s, n = p["start"], p["length"]
            assert c.times[s : s + n] == TIMES[s : s + n][::-1]
        elif kind == "crop":
            assert (c.times[0], c.times[-1]) == (p["start"], p["end"]) and p["mode"] == "release"
        else:
            assert c.indices == p["kept"]
        assert c.to_dict()["kind"] == kind and len(c.to_dict()["frame_times"]) == len(c.times)


def test_draw_kind_is_uniform_over_the_four_kinds():
    counts = {k: 0 for k in CORRUPTIONS}
    for seed in range(4000):
        counts[draw_kind(seed)] += 1
    assert all(900 < c < 1100 for c in counts.values()), counts
