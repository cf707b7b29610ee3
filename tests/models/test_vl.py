"""Qwen2-VL / Qwen2.5-VL / Qwen3-VL / Tarsier2: batching, frame timing, answer log-probs, layouts."""

from __future__ import annotations

import re

import pytest
import torch

from avcap.models import GenerationConfig, TrainExample, load_captioner
from avcap.models.hf_common import clip_frame_rate

VL_TINY = ["tiny:qwen2-vl", "tiny:qwen2.5-vl", "tiny:qwen3-vl", "tiny:tarsier2"]
PROMPT = "Describe the video in detail."
GREEDY = GenerationConfig(max_new_tokens=6)


@pytest.mark.parametrize("name", VL_TINY)
def test_batch_of_four_equals_four_single_calls(name, load_tiny, clips_for):
    cap = load_tiny(name)
    assert cap.family == "vl"
    clips = clips_for(cap)
    assert len({cap.encode(c, PROMPT)["input_ids"].shape[1] for c in clips}) > 1  # padding matters
    batched = cap.caption(clips, PROMPT, GREEDY)
    assert batched == [cap.caption([c], PROMPT, GREEDY)[0] for c in clips]


@pytest.mark.parametrize("name", VL_TINY)
def test_sequence_logps_equal_naive_per_example(name, load_tiny, clips_for, naive_logps):
    cap = load_tiny(name)
    clips = clips_for(cap)
    batch = [TrainExample(clips[0], PROMPT, "A red square moves right."), TrainExample(clips[3], PROMPT, "x")]
    logps = cap.sequence_logps(batch)
    reference = torch.tensor([naive_logps(cap, ex) for ex in batch], dtype=torch.float64)
    assert torch.allclose(logps.detach().double(), reference, atol=1e-4)
    assert logps.requires_grad


def test_qwen3_vl_prompt_carries_the_clip_frame_times(load_tiny, clips_for):
    cap = load_tiny("tiny:qwen3-vl")
    for clip in clips_for(cap):
        text = cap.tokenizer.decode(cap.encode(clip, PROMPT)["input_ids"][0])
        stamps = [float(s) for s in re.findall(r"<([0-9.]+) seconds>", text)]
        # One stamp per temporal patch: the mean time of its two frames (Qwen3-VL's rule).
        times = list(clip.frame_times) + [clip.frame_times[-1]] * (len(clip.frame_times) % 2)
        expected = [round((times[i] + times[i + 1]) / 2, 1) for i in range(0, len(times), 2)]
        assert stamps == pytest.approx(expected, abs=0.051)


def test_qwen25_vl_seconds_per_temporal_patch_follow_the_frame_rate(load_tiny, clips_for):
    cap = load_tiny("tiny:qwen2.5-vl")
    for clip in clips_for(cap):
        feats = cap.encode(clip, PROMPT)
        assert float(feats["second_per_grid_ts"][0]) == pytest.approx(2 / clip_frame_rate(clip), rel=1e-3)


def test_tarsier2_feeds_each_frame_as_its_own_temporal_patch(load_tiny, clips_for):
    cap = load_tiny("tiny:tarsier2")
    assert cap.frame_policy == "tarsier2" and cap.default_prompt == "Describe the video in detail."
    clips = clips_for(cap)
    assert max(c.num_frames for c in clips) == 16  # the release's 16 uniform frames (fewer if the video has fewer)
    for clip in clips:
        assert int(cap.encode(clip, PROMPT)["video_grid_thw"][0, 0]) == clip.num_frames


def test_tarsier2_release_layout_loads_the_same_weights_as_qwen2_vl(load_tiny):
    """Tarsier2's LLaVA-style config + pre-v4.52 Qwen2-VL key names map onto Qwen2VLForConditionalGeneration."""
    tarsier, qwen = load_tiny("tiny:tarsier2"), load_tiny("tiny:qwen2-vl")
    assert type(tarsier.model) is type(qwen.model)
    a, b = tarsier.model.state_dict(), qwen.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_tarsier2_wrapper_key_names_also_load(load_tiny, tmp_path):
    """The same weights saved under ``vision_tower.`` / ``language_model.`` names (LLaVA wrapper)."""
    import shutil

    from safetensors.torch import load_file, save_file

    from avcap.models.registry import resolve_checkpoint

    src = resolve_checkpoint("tiny:tarsier2")
    dst = tmp_path / "wrapper"
    shutil.copytree(src, dst)
    renamed = {}
    for key, value in load_file(str(src / "model.safetensors")).items():
        if key.startswith("visual."):
            key = "vision_tower." + key[len("visual."):]
        elif key.startswith("model."):
            key = "language_model.model." + key[len("model."):]
        elif key.startswith("lm_head."):
            key = "language_model." + key
        renamed[key] = value
    save_file(renamed, str(dst / "model.safetensors"), metadata={"format": "pt"})
    cap = load_captioner(dst)
    ref = load_tiny("tiny:tarsier2").model.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in cap.model.state_dict().items())
