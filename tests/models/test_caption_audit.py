"""The modality audit of caption rows: what each family was fed, no-audio videos, cut audio, frame caps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from avcap.cli import app
from avcap.media.audit import clip_audit
from avcap.media.clip import Clip
from avcap.models.audit import audit_warnings, row_audit
from avcap.synth.sample import SampleVideoSpec, write_sample_video

FAST = ["--max-new-tokens", "2", "--no-progress"]


def run(*args):
    return CliRunner().invoke(app, ["caption", *map(str, args)])


def rows(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.parametrize("model, hears", [("tiny:salmonn2", True), ("tiny:salmonn2-v1", True), ("tiny:omni", True),
                                          ("tiny:qwen2-vl", False), ("tiny:videollama2-av", True),
                                          ("tiny:videollama2", False)])
def test_every_family_reports_its_token_counts(model, hears, videos, tmp_path):
    out = tmp_path / "c.jsonl"
    result = run(videos[1], "-m", model, "-o", out, *FAST)  # b.mp4: 2.5 s with sound
    assert result.exit_code == 0, result.output
    audit = rows(out)["b.mp4"]["audit"]
    assert audit["has_audio_stream"] is True and audit["visual_tokens"] > 0 and audit["frames"] > 0
    assert audit["video_seconds_fed"] == pytest.approx(2.5, abs=0.1) and audit["policy"]
    if hears:
        assert audit["audio_tokens"] > 0 and audit["audio_seconds_fed"] == pytest.approx(2.5, abs=0.05)
        assert not audit["no_audio_fed"] and not audit["visual_only_model"]
    else:  # a visual-only family: no audio tokens, and it is no surprise (no warning)
        assert audit["audio_tokens"] == 0 and audit["audio_seconds_fed"] == 0 and audit["visual_only_model"]
        assert not audit["no_audio_fed"] and "fed no audio" not in result.output


def test_a_video_without_audio_is_audited_as_such(videos, tmp_path):
    out = tmp_path / "c.jsonl"
    assert run(videos[2], "-m", "tiny:salmonn2", "-o", out, *FAST).exit_code == 0  # c.mp4: no audio stream
    audit = rows(out)["c.mp4"]["audit"]
    assert audit["has_audio_stream"] is False and audit["no_audio_fed"] is False
    assert audit["silence_fed"] is True  # the release feeds zeros for a silent video
    assert audit["truncated"] is False


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """20 s: longer than the tiny Qwen2.5-Omni extractor's 10 s (the release's 300 s) and than
    VideoLLaMA 2's eight 2 s windows."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_sample_video(path, SampleVideoSpec(duration_s=20.0, fps=2, width=56, height=56, seed=3))
    return path


def test_audio_cut_by_the_processor_is_audited_and_warned(long_video, tmp_path):
    out = tmp_path / "c.jsonl"
    result = run(long_video, "-m", "tiny:omni", "-o", out, "--max-frames", "4", *FAST)
    assert result.exit_code == 0, result.output
    audit = rows(out)["long.mp4"]["audit"]
    assert audit["audio_cut"] is True and audit["truncated"] is True
    assert audit["audio_seconds_fed"] == pytest.approx(10.0) and audit["has_audio_stream"]
    assert audit["frames_capped"] is True and audit["frames"] == 4  # 2 fps x 20 s would be 40
    assert "1 video(s) had audio cut" in result.output and "frame cap" in result.output


def test_videollama2_feeds_16_seconds_of_a_long_track(long_video, tmp_path):
    out = tmp_path / "c.jsonl"
    assert run(long_video, "-m", "tiny:videollama2-av", "-o", out, *FAST).exit_code == 0
    audit = rows(out)["long.mp4"]["audit"]
    assert audit["audio_seconds_fed"] == pytest.approx(16.0) and audit["audio_cut"]  # 8 x 2 s windows of 20 s


def _clip(**meta) -> Clip:
    return Clip(path="x.mp4", frames=np.zeros((3, 4, 4, 3), np.uint8), frame_times=np.arange(3.0),
                audio=np.zeros(16_000 * 3, np.float32), duration_s=3.0, has_audio=True, policy="p",
                meta={"has_audio": True, "duration_s": 3.0, "audio_source_s": 3.0, **meta})


def test_clip_audit_reads_caps_budgets_and_long_tracks():
    base = clip_audit(_clip(sampling={"frames_uncapped": 3, "source_pixels": 16, "frame_pixels": 16}))
    assert not base["frames_capped"] and not base["pixels_reduced"] and not base["audio_cut_by_media"]
    capped = clip_audit(_clip(sampling={"frames_uncapped": 4, "source_pixels": 32, "frame_pixels": 16}))
    assert capped["frames_capped"] and capped["pixels_reduced"]
    assert clip_audit(_clip(audio_source_s=5.0))["audio_cut_by_media"]  # a 5 s track fitted to a 3 s video
    assert not clip_audit(_clip(audio_source_s=5.0, segment=[0, 3]))["audio_cut_by_media"]  # a segment cuts on purpose
    off = clip_audit(_clip(audio="off"))
    assert off["audio_off"] and off["audio_seconds"] == 0


def test_row_audit_flags_sound_that_was_not_fed():
    media = clip_audit(_clip())
    assert row_audit(media, {"audio_tokens": 0, "visual_tokens": 5})["no_audio_fed"] is True
    assert row_audit(media, {"audio_tokens": 9, "visual_tokens": 5, "audio_seconds_fed": 3.0})["no_audio_fed"] is False
    assert row_audit(media, {"audio_tokens": 0}, hears_audio=False)["no_audio_fed"] is False
    assert row_audit(clip_audit(_clip(audio="off")), {"audio_tokens": 0})["no_audio_fed"] is False
    lines = audit_warnings([{"id": "a", "audit": {"no_audio_fed": True}}, {"id": "b", "audit": {}}])
    assert lines == ["1 video(s) fed no audio although the file has sound: a"]
