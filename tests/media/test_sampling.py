"""Frame-time samplers and frame-size rules, against values worked out by hand."""

import doctest
import math

import pytest

from avcap.media import audio, corrupt, policies, sampling
from avcap.media.sampling import (
    long_side_size,
    qwen_frame_max_pixels,
    qwen_frame_times,
    qwen_num_frames,
    salmonn2_frame_times,
    short_side_size,
    smart_resize,
    tarsier2_frame_times,
    videollama2_frame_times,
)


@pytest.mark.parametrize("module", [sampling, policies, corrupt, audio])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# --- video-SALMONN 2 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (0.4, [0.0]),  # shorter than one slot: one frame at the start
        (1.0, [0.0]),
        (1.0 + 1e-9, [0.0]),  # float noise does not add a slot
        (3.5, [0.0, 1.0, 2.0, 3.0]),  # the partial last slot keeps its frame
        (4.0, [0.0, 1.0, 2.0, 3.0]),
    ],
)
def test_salmonn2_one_frame_per_second_slot(duration, expected):
    assert salmonn2_frame_times(duration) == expected


def test_salmonn2_exactly_110_seconds_is_not_capped():
    assert salmonn2_frame_times(110.0) == [float(k) for k in range(110)]


def test_salmonn2_above_110_frames_is_110_uniform():
    times = salmonn2_frame_times(110.5)
    assert len(times) == 110
    step = 110.5 / 110  # phi' = m / T
    assert times[1] == pytest.approx(step) and times[-1] == pytest.approx(109 * step)
    assert salmonn2_frame_times(220.0) == [2.0 * k for k in range(110)]


def test_salmonn2_rate_and_cap_overrides():
    assert salmonn2_frame_times(3.0, fps=2.0) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert salmonn2_frame_times(5.0, max_frames=1) == [0.0]
    assert salmonn2_frame_times(10.0, max_frames=4) == [0.0, 2.5, 5.0, 7.5]


@pytest.mark.parametrize("duration", [0.0, -1.0, math.nan, math.inf])
def test_salmonn2_rejects_zero_or_bad_duration(duration):
    with pytest.raises(ValueError, match="duration_s"):
        salmonn2_frame_times(duration)


def test_salmonn2_rejects_bad_rate_and_cap():
    with pytest.raises(ValueError):
        salmonn2_frame_times(3.0, fps=0.0)
    with pytest.raises(ValueError):
        salmonn2_frame_times(3.0, max_frames=0)


# --- Qwen2.5-Omni / Qwen2.5-VL ---------------------------------------------------------------


def test_qwen_num_frames_follows_smart_nframes():
    assert qwen_num_frames(total_frames=300, source_fps=30.0) == 20  # 10 s * 2 fps
    assert qwen_num_frames(total_frames=28, source_fps=10.0) == 4  # 5.6 -> floor to even
    assert qwen_num_frames(total_frames=20, source_fps=10.0) == 4  # 2 s * 2 = 4 = min_frames
    assert qwen_num_frames(total_frames=7, source_fps=1.0) == 6  # 14 wanted, capped by 7 -> 6
    assert qwen_num_frames(total_frames=30_000, source_fps=30.0) == 768  # FPS_MAX_FRAMES
    assert qwen_num_frames(total_frames=1, source_fps=25.0) == 2  # never fewer than a temporal patch


def test_qwen_frame_times_round_linspace_indices():
    times = qwen_frame_times(10.0, 30.0)
    assert len(times) == 20
    # linspace(0, 299, 20): step 15.74 -> indices 0, 16, 31, ..., 299
    assert times[:3] == [0.0, 16 / 30, 31 / 30] and times[-1] == 299 / 30
    assert qwen_frame_times(0.04, 25.0) == [0.0, 0.0]  # one source frame, repeated
    assert qwen_frame_times(2.0, 10.0, num_source_frames=19)[-1] == pytest.approx(1.8)  # container count wins


def test_qwen_per_frame_cap_under_total_budget():
    avocado = {"max_pixels": 401_408, "total_pixels": 20_070_400}
    assert qwen_frame_max_pixels(100, **avocado) == 401_408  # 20,070,400 * 2 / 100
    assert qwen_frame_max_pixels(200, **avocado) == 200_704
    assert qwen_frame_max_pixels(400, **avocado) == 105_369  # floor: int(1.05 * 128 * 784)
    assert qwen_frame_max_pixels(16) == 602_112  # qwen-vl-utils: VIDEO_MAX_PIXELS


def test_smart_resize_hand_values():
    assert smart_resize(48, 64, 28, 128 * 784, 401_408) == (280, 392)  # upscaled to min_pixels
    assert smart_resize(1080, 1920, 28, 128 * 784, 401_408) == (448, 840)
    assert smart_resize(720, 1280, 28, 128 * 784, 401_408) == (448, 840)
    assert smart_resize(1080, 1920, factor=1, min_pixels=0, max_pixels=460_800) == (509, 905)  # Tarsier2


def test_smart_resize_matches_transformers():
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as reference

    for h in (28, 50, 97, 240, 360, 481, 720, 1080, 2160):
        for w in (28, 64, 213, 426, 640, 1280, 1920):
            for factor, lo, hi in ((28, 128 * 784, 401_408), (28, 56 * 56, 768 * 784), (1, 0, 460_800)):
                assert smart_resize(h, w, factor, lo, hi) == reference(h, w, factor, lo, hi), (h, w, factor)


def test_smart_resize_rejects_extreme_aspect():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2010)


def test_short_and_long_side_sizes():
    assert short_side_size(1080, 1920, 384) == (384, 683)
    assert short_side_size(48, 64, 384) == (48, 64)  # never upscaled
    assert long_side_size(48, 64, 384) == (288, 384)
    assert long_side_size(1920, 1080, 384) == (384, 216)


# --- Tarsier2 and VideoLLaMA 2 ---------------------------------------------------------------


def test_tarsier2_uniform_including_first_and_last():
    assert tarsier2_frame_times(2.0, 5.0, num_frames=4) == [0.0, 0.6, 1.2, 1.8]
    # F = 6, N = 3: i * 5 / 2 = 0, 2.5, 5 -> Python's round: 0, 2, 5
    assert tarsier2_frame_times(0.6, 10.0, num_frames=3) == [0.0, 0.2, 0.5]
    times = tarsier2_frame_times(10.0, 10.0)  # F = 100, N = 16: round(6.6 i)
    assert [round(t * 10) for t in times] == [0, 7, 13, 20, 26, 33, 40, 46, 53, 59, 66, 73, 79, 86, 92, 99]


def test_tarsier2_short_video_and_single_frame():
    assert tarsier2_frame_times(1.0, 10.0, num_frames=16) == [k / 10 for k in range(10)]  # F <= N: all frames
    assert tarsier2_frame_times(5.0, 10.0, num_frames=1) == [0.0]


def test_videollama2_segment_middles():
    assert videollama2_frame_times(2.1, 10.0, num_frames=4) == [0.3, 0.8, 1.3, 1.8]
    # F = 16, N = 16: seg 15/16, middles 0.47, 1.41, ... -> every frame once
    assert [round(t * 10) for t in videollama2_frame_times(1.6, 10.0)] == list(range(16))
    # F = 4, N = 8: seg 3/8 -> 0.19, 0.56, 0.94, 1.31, 1.69, 2.06, 2.44, 2.81 -> repeats
    assert [round(t * 10) for t in videollama2_frame_times(0.4, 10.0, num_frames=8)] == [0, 1, 1, 1, 2, 2, 2, 3]
    # F = 3, N = 2: middles exactly 0.5 and 1.5; the release's +1e-6 rounds them up
    assert videollama2_frame_times(0.3, 10.0, num_frames=2) == [0.1, 0.2]


@pytest.mark.parametrize("fn", [tarsier2_frame_times, videollama2_frame_times, qwen_frame_times])
def test_index_samplers_reject_zero_duration(fn):
    with pytest.raises(ValueError, match="duration_s"):
        fn(0.0, 30.0)
