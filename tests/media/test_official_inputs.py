"""The 2+ release's frame sampler, the generic --fps/--max-frames/--max-pixels overrides, and the
row fields that change what is decoded: segments (``timestamps``), ``use_audio: false``, images."""

import numpy as np
import pytest

from avcap.errors import ConfigError, MissingMediaError, NotAVideoError
from avcap.media import get_policy, load_clip, load_image_clip, load_media
from avcap.media.sampling import salmonn2_plus_frame_max_pixels, salmonn2_plus_frame_times, smart_resize


def _release_indices(total: int, fps: float, interval: float, lo: int, hi: int) -> list[int]:
    """The release's ``video_torchcodec`` steps, written out one by one (numpy only for linspace)."""
    video_length = total / fps
    n = round(video_length / interval)
    n = min(max(n, lo), hi)
    return sorted({int(x) for x in np.linspace(0, total - 1, n)})


@pytest.mark.parametrize("total,fps", [(2500, 25.0), (8, 8.0), (24, 8.0), (301, 29.97), (17, 30.0), (90_000, 30.0)])
def test_plus_frame_times_follow_the_release_steps(total, fps):
    times = salmonn2_plus_frame_times(total / fps, fps, num_source_frames=total)
    assert times == pytest.approx([i / fps for i in _release_indices(total, fps, 0.1, 16, 768)])


def test_plus_frame_times_hand_computed():
    # 100 s at 25 fps: 1000 frames wanted, 768 kept, first and last source frames included.
    times = salmonn2_plus_frame_times(100.0, 25.0, num_source_frames=2500)
    assert len(times) == 768 and times[0] == 0.0 and times[-1] == pytest.approx(2499 / 25)
    # 1 s at 8 fps: 16 asked (the minimum), linspace repeats frames, unique leaves all 8.
    assert len(salmonn2_plus_frame_times(1.0, 8.0, num_source_frames=8)) == 8
    # The release divides by the interval: 0.35 / 0.1 = 3.4999... -> 3 frames (0.35 * 10 would give 4).
    assert len(salmonn2_plus_frame_times(0.35, 100.0, min_frames=1, num_source_frames=35)) == 3


def test_plus_pixel_budget_and_size():
    assert salmonn2_plus_frame_max_pixels(16) == pytest.approx(0.95 * 768 / 16 * 61250)  # 2,793,000
    assert salmonn2_plus_frame_max_pixels(768) == 61250 and salmonn2_plus_frame_max_pixels(900) == 61250
    policy = get_policy("salmonn2-plus")
    short = policy.plan(1.6, 10.0, 1080, 1920, 16)  # 16 frames: a 1080p frame keeps its size (28-rounded)
    assert len(short.frame_times) == 16 and (short.height, short.width) == (1092, 1932)
    long = policy.plan(600.0, 25.0, 1080, 1920, 15000)  # 768 frames at 61,250 px
    assert len(long.frame_times) == 768 and (long.height, long.width) == (168, 308)
    assert (long.height, long.width) == smart_resize(1080, 1920, 28, 3136, 61250)


def test_generic_overrides_map_onto_each_policy():
    plus = get_policy("salmonn2-plus").overridden(fps=5, max_frames=8, max_pixels=20_000)
    assert (plus.interval_s, plus.max_frames, plus.min_frames, plus.max_pixels) == (0.2, 8, 8, 20_000)
    assert get_policy("salmonn2").overridden(fps=2, max_frames=9).fps == 2
    assert get_policy("tarsier2").overridden(max_frames=8).num_frames == 8
    omni = get_policy("omni").overridden(max_pixels=50_000)
    assert omni.max_pixels == 50_000 and omni.min_pixels == 50_000  # the floor follows the cap down
    assert get_policy("omni").overridden() == get_policy("omni")
    with pytest.raises(ConfigError, match="--fps does not apply to frame policy tarsier2"):
        get_policy("tarsier2").overridden(fps=2)
    with pytest.raises(ConfigError, match="--max-pixels does not apply to frame policy salmonn2: the first release"):
        get_policy("salmonn2").overridden(max_pixels=10_000)
    with pytest.raises(ConfigError, match="must be > 0"):
        get_policy("omni").overridden(fps=0)


def test_avocado_total_is_the_effective_library_default():
    # 100 s at 2 fps = 200 frames: the stated 20,070,400 total would shrink each frame to 200,704 px;
    # the run's effective total (90,316,800) keeps AVoCaDO's 401,408 px per frame.
    run = get_policy("omni").plan(100.0, 30.0, 1080, 1920)
    paper = get_policy("omni-paper").plan(100.0, 30.0, 1080, 1920)
    assert len(run.frame_times) == len(paper.frame_times) == 200
    assert (run.height, run.width) == (448, 840) == smart_resize(1080, 1920, 28, 128 * 28 * 28, 401_408)
    assert (paper.height, paper.width) == (336, 588) == smart_resize(1080, 1920, 28, 128 * 28 * 28, 200_704)


def test_segment_is_planned_over_its_own_span(av_video, media, bars):
    source = bars.source_times(media.specs["av"])
    clip = load_clip(av_video, "salmonn2", segment=(1.0, 3.0))
    assert clip.duration_s == pytest.approx(2.0) and clip.audio.shape == (32_000,)
    assert clip.meta["segment"] == [1.0, 3.0] and clip.frame_times[0] == pytest.approx(0.0)
    for frame, t in zip(clip.frames, clip.meta["target_times"]):
        expected = bars.frame_at(source, 1.0 + t)
        assert bars.index(frame, expected) == expected
    whole = load_clip(av_video, "salmonn2")
    np.testing.assert_array_equal(clip.audio, whole.audio[16_000:48_000])
    with pytest.raises(ConfigError, match="after the video ends"):
        load_clip(av_video, "salmonn2", segment=(9.0, 10.0))
    with pytest.raises(ConfigError, match="start < end"):
        load_clip(av_video, "salmonn2", segment=(2.0, 1.0))


def test_use_audio_false_gives_a_visual_only_clip(av_video):
    clip = load_media(video=av_video, policy="salmonn2", use_audio=False)
    assert clip.audio.size == 0 and not clip.has_audio and clip.meta["audio"] == "off" and clip.num_frames == 4


def test_image_rows_become_one_frame_clips(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    clip = load_media(image=tmp_path / "a.png")
    assert clip.is_image and clip.num_frames == 1 and clip.audio.size == 0
    np.testing.assert_array_equal(clip.frames[0], pixels)
    (tmp_path / "b.png").write_text("not an image")
    with pytest.raises(NotAVideoError, match="not a readable image"):
        load_image_clip(tmp_path / "b.png")
    with pytest.raises(MissingMediaError):
        load_image_clip(tmp_path / "missing.png")
