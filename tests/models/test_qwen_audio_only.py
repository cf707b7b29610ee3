"""Audio-only clips (no frames) in the transformers-native families: Qwen-Omni hears them through its
own audio input; Qwen-VL / Tarsier2 see frames only and refuse them in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models import GenerationConfig, TrainExample

OMNI_TINY = ["tiny:omni", "tiny:qwen3-omni"]
VL_TINY = ["tiny:qwen2-vl", "tiny:qwen2.5-vl", "tiny:qwen3-vl", "tiny:tarsier2"]
PROMPT = "Transcribe the speech."
GREEDY = GenerationConfig(max_new_tokens=6)


def audio_clip(seconds: float, seed: int) -> Clip:
    wave = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16_000))).astype(np.float32)
    return Clip(path=f"speech-{seed}.wav", frames=np.zeros((0, 0, 0, 3), np.uint8), frame_times=np.zeros(0),
                audio=wave, duration_s=seconds, has_audio=True, policy="audio")


@pytest.mark.parametrize("name", OMNI_TINY)
def test_omni_audio_only_clip_uses_the_audio_input_alone(name, load_tiny):
    cap = load_tiny(name)
    feats = cap.encode(audio_clip(2.0, 1), PROMPT)
    assert not any(key.startswith(("pixel_values", "video_")) for key in feats)
    ids = feats["input_ids"][0].tolist()
    tok = cap.tokenizer
    assert tok.video_token_id not in ids and ids.count(tok.convert_tokens_to_ids(tok.audio_bos_token)) == 1
    assert ids.count(tok.audio_token_id) > 0 and feats["feature_attention_mask"].sum() == 2 * 100  # 10 ms frames


@pytest.mark.parametrize("name", OMNI_TINY)
def test_omni_mixed_batch_equals_singles_and_scores_like_naive(name, load_tiny, clips_for, naive_logps):
    cap = load_tiny(name)
    videos = clips_for(cap)
    clips = [audio_clip(2.0, 2), videos[0], audio_clip(3.5, 3), videos[1]]
    batched = cap.caption(clips, PROMPT, GREEDY)
    assert batched == [cap.caption([clip], PROMPT, GREEDY)[0] for clip in clips]
    examples = [TrainExample(c, PROMPT, a) for c, a in zip(clips, ["hello there", "a square", "noise", "a dog"])]
    with torch.no_grad():
        logps = cap.sequence_logps(examples)
    reference = torch.tensor([naive_logps(cap, ex) for ex in examples], dtype=torch.float64)
    assert torch.allclose(logps.double(), reference, atol=1e-4)


@pytest.mark.parametrize("name", OMNI_TINY)
def test_omni_clip_with_neither_frames_nor_audio_is_a_model_error(name, load_tiny):
    empty = audio_clip(1.0, 4)
    empty.audio = np.zeros(0, np.float32)
    with pytest.raises(ModelError, match="no frames and no audio"):
        load_tiny(name).caption([empty], PROMPT, GREEDY)


@pytest.mark.parametrize("name", VL_TINY)
def test_visual_only_models_refuse_audio_only_clips_in_one_line(name, load_tiny):
    cap = load_tiny(name)
    clip = audio_clip(1.0, 5)
    for call in (lambda: cap.caption([clip], PROMPT, GREEDY),
                 lambda: cap.sequence_logps([TrainExample(clip, PROMPT, "hello")])):
        with pytest.raises(ModelError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{clip.path}: audio-only clip (no frames)") and "\n" not in message
