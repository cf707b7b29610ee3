"""load_clip decodes the right frames (checked through each frame's index bar) at the right size."""

import numpy as np
import pytest

from avcap.media import POLICIES, corrupt_frame_times, get_policy, load_clip, probe


def _check_identity(clip, bars, source_times, top=0, bar_rows=1):
    for frame, target, actual in zip(clip.frames, clip.meta["target_times"], clip.frame_times):
        expected = bars.frame_at(source_times, target)
        assert bars.index(frame, expected, top=top, bar_rows=bar_rows) == expected, (target, actual)
        assert actual == pytest.approx(source_times[expected], abs=1e-3)  # the frame's own timestamp


@pytest.mark.parametrize("policy", list(POLICIES))
def test_each_policy_decodes_the_frame_on_screen_at_each_time(policy, av_video, media, bars):
    clip = load_clip(av_video, policy)
    plan = get_policy(policy).plan(4.0, 12.0, 48, 64, 48)
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (len(plan.frame_times), plan.height, plan.width, 3)
    assert clip.meta["target_times"] == pytest.approx(plan.frame_times)
    assert clip.duration_s == pytest.approx(4.0) and clip.policy == policy
    top = (plan.height - plan.content_height) // 2  # videollama2 pads above and below
    _check_identity(clip, bars, bars.source_times(media.specs["av"]), top=top, bar_rows=max(1, plan.content_height // 40))


def test_padded_videollama2_frames_keep_the_picture_between_grey_bars(av_video, media, bars):
    policy = get_policy("videollama2", pad=True, size=96)
    clip = load_clip(av_video, policy)
    plan = policy.plan(4.0, 12.0, 48, 64, 48)
    assert clip.frames.shape[1:3] == (96, 96) and plan.pad_value == 127
    top = (plan.height - plan.content_height) // 2
    assert (clip.frames[:, : top - 1] == 127).all() and (clip.frames[:, plan.height - top + 1:] == 127).all()
    _check_identity(clip, bars, bars.source_times(media.specs["av"]), top=top, bar_rows=max(1, plan.content_height // 40))


def test_meta_describes_the_source(av_video):
    meta = load_clip(av_video).meta
    assert (meta["codec"], meta["width"], meta["height"], meta["rotation"]) == ("h264", 64, 48, 0)
    assert meta["fps"] == pytest.approx(12.0) and meta["num_frames"] == 48
    assert (meta["audio_codec"], meta["audio_rate_hz"], meta["audio_channels"]) == ("aac", 16_000, 1)


def test_vfr_times_map_through_timestamps(vfr_video, media, bars):
    times = bars.source_times(media.specs["vfr"])
    assert times[:4] == pytest.approx([0.0, 0.05, 0.2, 0.25])  # the file really is VFR
    for policy in ("salmonn2", "tarsier2", "omni"):
        clip = load_clip(vfr_video, policy)
        _check_identity(clip, bars, times)
    # a frame index would put t = 1.0 s on frame 10; on screen at 1.0 s is frame 5 (shown at 1.0)
    clip = load_clip(vfr_video, "salmonn2", frame_times=[1.0, 1.1])
    assert clip.frame_times.tolist() == pytest.approx([1.0, 1.05])


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_videos_come_out_upright(rotation, rotated_video, bars):
    path = rotated_video(rotation)
    assert probe(path).meta["width"] == (48 if rotation % 180 else 64)  # stored sideways
    clip = load_clip(path, "salmonn2")
    assert clip.meta["rotation"] % 360 == rotation % 360
    assert clip.frames.shape[1:] == (48, 64, 3)
    for i, frame in enumerate(clip.frames):
        expected = i * 12  # 1 fps on a 12 fps video
        assert bars.index(frame, expected) == expected  # the index bar is on top again
        assert frame[-1].mean() < 60  # and the bottom row is background, not bar


def test_long_video_is_capped_at_110_frames(long_silent_video, media, bars):
    clip = load_clip(long_silent_video, "salmonn2")
    assert clip.num_frames == 110 and not clip.has_audio
    assert clip.meta["target_times"] == pytest.approx([k * 230 / 110 for k in range(110)])
    _check_identity(clip, bars, bars.source_times(media.specs["long"]))
    assert clip.audio.shape == (230 * 16_000,) and not clip.audio.any()


def test_sparse_sampling_seeks_instead_of_decoding_everything(long_silent_video, media, bars):
    clip = load_clip(long_silent_video, "tarsier2")  # 16 frames ~15 s apart, keyframes every 5 s
    stats = clip.meta["decode"]
    assert stats["seeks"] >= 10
    assert stats["frames_decoded"] < 460 / 4  # of 460 frames in the file
    _check_identity(clip, bars, bars.source_times(media.specs["long"]))


def test_b_frames_far_from_targets_are_skipped_not_mis_picked(bframe_video, media, bars):
    times = bars.source_times(media.specs["bframes"])
    clip = load_clip(bframe_video, "salmonn2", frame_times=[0.0, 0.5, 1.3, 2.0, 2.7, 4.4, 5.9])
    _check_identity(clip, bars, times)
    assert clip.meta["decode"]["frames_decoded"] < len(times) * 0.8
    dense = load_clip(bframe_video, "omni")  # 2 fps: every other B-frame run is near a target
    _check_identity(dense, bars, times)
    # Keyframes at 2.0 s and 4.0 s are decoded 2 frames early (B-frame delay): a target between a
    # keyframe's decode and display time still belongs to the previous GOP's last frames.
    edge = load_clip(bframe_video, "salmonn2", frame_times=[0.0, 1.95, 1.99, 3.95])
    _check_identity(edge, bars, times)
    assert edge.frame_times[1:].tolist() == pytest.approx([58 / 30, 59 / 30, 118 / 30])


def test_explicit_frame_times_keep_order_and_repeats(av_video, media, bars):
    times = [3.0, 0.5, 0.5, 2.0]
    clip = load_clip(av_video, "tarsier2", frame_times=times)
    assert clip.meta["target_times"] == times and clip.policy == "tarsier2@times"
    _check_identity(clip, bars, bars.source_times(media.specs["av"]))
    assert np.array_equal(clip.frames[1], clip.frames[2])


@pytest.mark.parametrize("kind", ["exchange", "reverse", "crop", "discard"])
def test_corrupted_clip_loads_like_any_other(kind, av_video, media, bars):
    base = load_clip(av_video, "tarsier2")
    times = corrupt_frame_times(base.meta["target_times"], kind, seed=3)
    clip = load_clip(av_video, "tarsier2", frame_times=times)
    assert clip.frames.shape[1:] == base.frames.shape[1:] and clip.num_frames == len(times)
    assert clip.meta["target_times"] == pytest.approx(times)
    _check_identity(clip, bars, bars.source_times(media.specs["av"]))
    if kind in ("exchange", "reverse"):  # same frames, another order
        order = [base.meta["target_times"].index(t) for t in times]
        assert np.array_equal(clip.frames, base.frames[order])


def test_probe_agrees_with_load_clip(av_video, vfr_video):
    for path in (av_video, vfr_video):
        for policy in POLICIES:
            report, clip = probe(path, policy), load_clip(path, policy)
            assert report.frame_times == pytest.approx(clip.meta["target_times"], abs=1e-6)
            assert (report.num_frames, report.height, report.width) == clip.frames.shape[:3]
            assert report.has_audio == clip.has_audio and report.duration_s == clip.duration_s
            assert report.audio_chunks == 1


def test_a_seek_that_lands_past_the_target_is_retried_earlier(bframe_video, media, bars, monkeypatch):
    from avcap.media import decode

    real_seek, calls = decode._Cursor.seek, []

    def overshooting_seek(self, t):  # an imprecise index: the first seek lands a second late
        calls.append(t)
        real_seek(self, t + 1.0 if len(calls) == 1 else t)

    monkeypatch.setattr(decode._Cursor, "seek", overshooting_seek)
    clip = load_clip(bframe_video, "salmonn2", frame_times=[1.95])
    _check_identity(clip, bars, bars.source_times(media.specs["bframes"]))
    assert len(calls) == 2 and calls[1] < 1.95
