"""``--mute-audio``: the audio-off ablation gives the model silence of the clip's own length."""

from __future__ import annotations

import json

import numpy as np

from avcap.models.base import GenerationConfig
from avcap.models.captioning import CaptionItem, CaptionRunConfig, run_captioning


class RecordingCaptioner:
    """Captions each clip with its audio RMS, so the test sees exactly what the model was given."""

    name = "recorder"
    frame_policy = "salmonn2"
    default_prompt = "Describe."

    def __init__(self):
        self.clips = []

    def caption(self, clips, prompt, gen):
        self.clips += clips
        return [f"rms {float(np.sqrt(np.mean(c.audio ** 2))) if c.audio.size else 0.0:.6f}" for c in clips]


def _run(videos, out, mute):
    captioner = RecordingCaptioner()
    items = [CaptionItem(id=v.name, video=str(v)) for v in videos]
    run_captioning(captioner, items, CaptionRunConfig(out=out, generation=GenerationConfig(max_new_tokens=4),
                                                      batch_size=2, progress=False, mute_audio=mute))
    return captioner, [json.loads(line) for line in out.read_text().splitlines()]


def test_muted_clips_are_silent_with_the_same_length_and_frames(videos, tmp_path):
    heard, rows_on = _run(videos, tmp_path / "on.jsonl", mute=False)
    muted, rows_off = _run(videos, tmp_path / "off.jsonl", mute=True)
    assert len(heard.clips) == len(muted.clips) == len(videos)
    by_path = {c.path: c for c in heard.clips}
    assert any(c.audio.size and np.abs(c.audio).max() > 0 for c in heard.clips)  # the test videos do sound
    for clip in muted.clips:
        original = by_path[clip.path]
        assert clip.audio.shape == original.audio.shape and clip.audio.dtype == original.audio.dtype
        assert not np.any(clip.audio)
        np.testing.assert_array_equal(clip.frames, original.frames)
        np.testing.assert_array_equal(clip.frame_times, original.frame_times)
    assert all(r["caption"] == "rms 0.000000" for r in rows_off)
    assert all(r["generation"]["audio"] == "muted" for r in rows_off)
    assert all("audio" not in r["generation"] for r in rows_on)
