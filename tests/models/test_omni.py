"""Qwen-Omni thinkers: batching, audio-in-video interleaving, answer log-probs, official layouts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from avcap.models import GenerationConfig, TrainExample, load_captioner
from avcap.models.hf_common import clip_frame_rate

OMNI_TINY = ["tiny:omni", "tiny:qwen3-omni"]
PROMPT = "Describe the video."
GREEDY = GenerationConfig(max_new_tokens=6)


@pytest.mark.parametrize("name", OMNI_TINY)
def test_batch_of_four_equals_four_single_calls(name, load_tiny, clips_for):
    cap = load_tiny(name)
    clips = clips_for(cap)
    lengths = {cap.encode(c, PROMPT)["input_ids"].shape[1] for c in clips}
    assert len(lengths) > 1, "clips of one length would not exercise left padding"
    batched = cap.caption(clips, PROMPT, GREEDY)
    single = [cap.caption([c], PROMPT, GREEDY)[0] for c in clips]
    assert batched == single
    assert len(batched) == 4 and all(isinstance(t, str) for t in batched)


def _expected_layout(n_grids: int, per_grid: int, n_audio: int, sec_per_grid: float, ids_per_s: float,
                     chunk_s: float | None) -> list[str]:
    """Brute force: each token gets its time in position ids; video before audio within a step.

    Qwen2.5-Omni groups by ``chunk_s`` windows (all video of a window, then its audio); Qwen3-Omni
    (``chunk_s=None``) merges the two sorted streams token by token.
    """
    video = [("V", g * sec_per_grid * ids_per_s) for g in range(n_grids) for _ in range(per_grid)]
    audio = [("A", float(k)) for k in range(n_audio)]
    if chunk_s is None:
        merged, i, j = [], 0, 0
        while i < len(video) and j < len(audio):
            if video[i][1] <= audio[j][1]:
                merged.append("V")
                i += 1
            else:
                merged.append("A")
                j += 1
        return merged + ["V"] * (len(video) - i) + ["A"] * (len(audio) - j)
    window = chunk_s * ids_per_s
    n_chunks = int(max(v[1] for v in video + audio) // window) + 1
    out = []
    for c in range(n_chunks):
        out += [kind for kind, t in video if c * window <= t < (c + 1) * window]
        out += [kind for kind, t in audio if c * window <= t < (c + 1) * window]
    return out


@pytest.mark.parametrize("name, ids_per_s, chunk_s", [("tiny:omni", 25, 2.0), ("tiny:qwen3-omni", 13, None)])
def test_audio_tokens_interleave_with_video_by_time(name, ids_per_s, chunk_s, load_tiny, clips_for):
    cap = load_tiny(name)
    tok = cap.tokenizer
    for clip in clips_for(cap):  # includes a silent video: it gets (zero) audio tokens too
        feats = cap.encode(clip, PROMPT)
        ids = feats["input_ids"][0].tolist()
        start = ids.index(tok.convert_tokens_to_ids(tok.audio_bos_token))
        end = ids.index(tok.convert_tokens_to_ids(tok.audio_eos_token))
        body = ids[start + 1:end]
        kinds = ["V" if i == tok.video_token_id else "A" if i == tok.audio_token_id else "?" for i in body]
        t, h, w = feats["video_grid_thw"][0].tolist()
        sec_per_grid = float(feats["video_second_per_grid"][0])
        # 2 frames per temporal patch at the clip's own frame rate (omni policy: 2 fps, >= 4 frames).
        assert sec_per_grid == pytest.approx(2 / clip_frame_rate(clip))
        n_audio = kinds.count("A")
        assert n_audio == pytest.approx(clip.duration_s * ids_per_s, abs=2)  # one audio token per position id
        assert kinds == _expected_layout(t, h * w // 4, n_audio, sec_per_grid, ids_per_s, chunk_s)


@pytest.mark.parametrize("name", OMNI_TINY)
def test_sequence_logps_equal_naive_per_example_and_are_differentiable(name, load_tiny, clips_for, naive_logps):
    cap = load_tiny(name)
    clips = clips_for(cap)[:3]
    batch = [TrainExample(c, PROMPT, answer) for c, answer in
             zip(clips, ["a red square moves", "noise", "The camera stays still while a man speaks."])]
    logps = cap.sequence_logps(batch)
    assert logps.shape == (3,)
    reference = torch.tensor([naive_logps(cap, ex) for ex in batch], dtype=torch.float64)
    assert torch.allclose(logps.detach().double(), reference, atol=1e-4)
    cap.model.zero_grad()
    logps.sum().backward()
    grad = cap.model.lm_head.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    cap.model.zero_grad(set_to_none=True)
    with torch.no_grad():
        again, counts = cap.sequence_logps(batch, return_counts=True)
    expected = [len(cap.tokenizer(ex.answer, add_special_tokens=False)["input_ids"]) + 1 for ex in batch]  # + end of turn
    assert counts.tolist() == expected
    torch.testing.assert_close(again, logps.detach())


def _full_omni_checkpoint(tiny_dir, out_dir, variant: str):
    """The release layout: a full model config (thinker + talker) and ``thinker.``-prefixed weights."""
    import transformers as tf
    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_dir, out_dir)
    thinker = json.loads((tiny_dir / "config.json").read_text())
    full_cls = tf.Qwen2_5OmniConfig if variant == "omni" else tf.Qwen3OmniMoeConfig
    config = full_cls(thinker_config=thinker).to_dict()
    config["architectures"] = ["Qwen2_5OmniForConditionalGeneration" if variant == "omni"
                               else "Qwen3OmniMoeForConditionalGeneration"]
    (out_dir / "config.json").write_text(json.dumps(config))
    weights = {f"thinker.{k}": v for k, v in load_file(str(tiny_dir / "model.safetensors")).items()}
    weights["talker.model.embed_tokens.weight"] = torch.zeros(4, 4)  # speech side: present, unused
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


@pytest.mark.parametrize("name", OMNI_TINY)
def test_full_release_checkpoint_loads_thinker_only(name, load_tiny, clips_for, tmp_path):
    from avcap.models.registry import resolve_checkpoint

    tiny = load_tiny(name)
    path = tmp_path / "release"
    _full_omni_checkpoint(resolve_checkpoint(name), path, "omni" if name == "tiny:omni" else "qwen3")
    cap = load_captioner(path)  # backend auto reads the full config
    assert cap.family == "omni" and cap.frame_policy == "omni"
    assert type(cap.model) is type(tiny.model)  # the thinker class, no talker
    clips = clips_for(cap)[:2]
    assert cap.caption(clips, PROMPT, GREEDY) == tiny.caption(clips, PROMPT, GREEDY)


def test_num_samples_are_clip_major_and_seeded(load_tiny, clips_for):
    cap = load_tiny("tiny:omni")
    clips = clips_for(cap)[:2]
    # A vanishing temperature samples the argmax: every sample equals its own clip's greedy caption.
    near_greedy = cap.caption(clips, PROMPT, GenerationConfig(max_new_tokens=6, temperature=1e-6, num_samples=3))
    greedy = cap.caption(clips, PROMPT, GREEDY)
    assert near_greedy == [greedy[0]] * 3 + [greedy[1]] * 3
    hot = GenerationConfig(max_new_tokens=6, temperature=2.0, num_samples=3, seed=7)
    first = cap.caption(clips, PROMPT, hot)
    assert len(first) == 6 and first == cap.caption(clips, PROMPT, hot)  # seeded: reproducible
    assert len(set(first)) > 1  # and actually sampled


def test_clip_frame_rate_is_frames_per_second_of_video():
    from avcap.media.clip import Clip

    def clip(times, duration):
        return Clip(path="x", frames=np.zeros((len(times), 4, 4, 3), np.uint8), frame_times=np.array(times),
                    audio=np.zeros(16), duration_s=duration, has_audio=False)

    assert clip_frame_rate(clip([0.0, 0.5, 1.0, 1.5], 2.0)) == pytest.approx(2.0)
    assert clip_frame_rate(clip([0.0, 0.75, 1.5, 2.25], 2.5)) == pytest.approx(1.6)  # 4 / 2.5 s, not 1 / 0.75 s
    assert clip_frame_rate(clip([0.0], 4.0)) == pytest.approx(0.25)
    assert clip_frame_rate(clip([0.0, 0.5, 1.0], 0.0)) == pytest.approx(2.0)  # no duration: from the spacing
