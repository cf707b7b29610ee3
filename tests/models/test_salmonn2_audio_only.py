"""Audio-only clips (no frames: ASR / audio-caption rows) in both video-SALMONN 2 releases.

References are the releases' own rules, rewritten: the 2+ ``<audio>`` placeholder and the
audio-only branch of its ``get_rope_index``; the first release's modality "audio" (speech
embeddings fill the ``<image>`` slot, 1D positions).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avcap.errors import ModelError
from avcap.media import load_audio_clip
from avcap.media.clip import Clip
from avcap.models.base import GenerationConfig, TrainExample
from avcap.models.salmonn2.processing import AUDIO_SLOT, IGNORE_INDEX, VISUAL_SLOT
from avcap.models.salmonn2.rope import plus_rope_positions

from .conftest_salmonn2 import make_clip, tiny_captioner

VARIANTS = ["plus", "v1"]
PROMPT = "Transcribe the speech."
GREEDY = GenerationConfig(max_new_tokens=6)
T, S, E, VID, AUD = 10, 3, 4, 6, 7  # token ids for the M-RoPE examples


def audio_clip(seconds: float, seed: int) -> Clip:
    """What ``load_audio_clip`` returns: no frames, noise at 16 kHz."""
    wave = (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16_000))).astype(np.float32)
    return Clip(path=f"speech-{seed}.wav", frames=np.zeros((0, 0, 0, 3), np.uint8), frame_times=np.zeros(0),
                audio=wave, duration_s=seconds, has_audio=True, policy="audio")


def mixed_clips() -> list[Clip]:
    """Audio-only clips of one and two chunks between video clips: lengths differ, padding matters."""
    return [audio_clip(2.0, 1), make_clip(3, 3.0, seed=2), audio_clip(31.0, 3), make_clip(1, 0.8, seed=4)]


# --- positions -------------------------------------------------------------------------------


def official_audio_only_positions(ids: list[int], audio_len: int) -> list[list[int]]:
    """The 2+ release's ``get_rope_index`` audio-only branch (``audio_lengths``, no video grid),
    rewritten for one sequence with one ``<audio>`` block."""
    ed = ids.index(AUD)
    text = torch.arange(ed).view(1, -1).expand(3, -1)
    time_index = torch.arange(audio_len)
    audio = torch.stack([time_index, time_index, torch.zeros_like(time_index)]) + ed
    st = ed + audio_len
    after = torch.arange(len(ids) - st).view(1, -1).expand(3, -1) + audio[0].max() + 1
    return torch.cat([text, audio, after], dim=1).tolist()


def test_audio_only_mrope_hand_computed():
    ids = [T, T, S, AUD, AUD, AUD, E, T]
    pos = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=None, spatial_merge_size=2,
                              seconds_per_grid=0.0, num_audio=3)
    # audio k -> (3 + k, 3 + k, 3): time and height count the tokens, width stays; text goes on from 3 + 3
    assert pos.tolist() == [
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0, 1, 2, 3, 4, 5, 6, 7],
        [0, 1, 2, 3, 3, 3, 6, 7],
    ]


@pytest.mark.parametrize("before,audio,after", [(1, 60, 5), (7, 120, 1), (3, 180, 12), (12, 60, 0)])
def test_audio_only_mrope_matches_release_branch(before, audio, after):
    ids = [T] * (before - 1) + [S] + [AUD] * audio + [E] + [T] * after
    pos = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=None, spatial_merge_size=2,
                              seconds_per_grid=0.0, num_audio=audio)
    assert pos.tolist() == official_audio_only_positions(ids, audio)
    assert pos.max() == pos[:, -1].max() == len(ids) - 1  # generation continues at last + 1, as with text


def test_audio_only_mrope_rejects_inconsistent_sequences():
    kwargs = dict(video_token_id=VID, audio_token_id=AUD, grid_thw=None, spatial_merge_size=2, seconds_per_grid=0.0)
    with pytest.raises(ValueError, match="expected 3"):
        plus_rope_positions([T, AUD, AUD, E], num_audio=3, **kwargs)
    with pytest.raises(ValueError, match="contiguous"):
        plus_rope_positions([T, AUD, E, AUD, E], num_audio=2, **kwargs)
    with pytest.raises(ValueError, match="without a video grid"):
        plus_rope_positions([T, VID, AUD, E], num_audio=1, **kwargs)


# --- inputs ----------------------------------------------------------------------------------


def test_plus_audio_only_layout_is_the_release_audio_placeholder():
    cap = tiny_captioner("plus")
    clip = audio_clip(31.0, 5)  # two 30 s chunks
    batch = cap.processor([clip], [PROMPT])
    tok = cap.tokenizer
    # generate_id_target: "<audio>\nPrompt" -> <|vision_start|> <|audio_pad|> x 120 <|vision_end|> \nPrompt,
    # in the release's ChatML template with its system turn, up to the assistant header.
    content = "<|vision_start|>" + "<|audio_pad|>" * 120 + "<|vision_end|>\n" + PROMPT
    text = tok.apply_chat_template([{"role": "system", "content": "You are a helpful assistant."},
                                    {"role": "user", "content": content}], add_generation_prompt=True, tokenize=False)
    assert batch.input_ids[0].tolist() == tok(text, add_special_tokens=False).input_ids
    assert batch.visual.shape == (0, 3 * 2 * 14 * 14) and batch.video_grid_thw is None
    assert batch.chunks_per_clip == [2] and batch.audio_features.shape[0] == 2
    assert not (batch.input_ids == cap.processor.spec.video_token_id).any()
    expected = plus_rope_positions(batch.input_ids[0].tolist(), video_token_id=cap.processor.spec.video_token_id,
                                   audio_token_id=cap.processor.spec.audio_token_id, grid_thw=None,
                                   spatial_merge_size=2, seconds_per_grid=0.0, num_audio=120)
    assert batch.position_ids[:, 0].tolist() == expected.tolist()


def test_v1_audio_only_fills_the_image_slot_with_audio():
    cap = tiny_captioner("v1")
    video, speech = make_clip(2, 2.0, seed=6), audio_clip(2.0, 6)
    batch = cap.processor([speech], [PROMPT])
    ids = batch.input_ids[0]
    slots = (ids == AUDIO_SLOT).nonzero().flatten()
    assert len(slots) == 60 and (slots.diff() == 1).all() and not (ids == VISUAL_SLOT).any()
    assert batch.visual.shape[0] == 0 and batch.position_ids[0].tolist() == list(range(len(ids)))
    # The text around the slot is the video layout's: the same prompt ids before and after the block.
    ref = cap.processor([video], [PROMPT]).input_ids[0]
    is_slot = (ref == AUDIO_SLOT) | (ref == VISUAL_SLOT)
    assert ref[~is_slot].tolist() == ids[ids != AUDIO_SLOT].tolist()


@pytest.mark.parametrize("variant", VARIANTS)
def test_mixed_batch_is_left_padded_with_each_clip_as_alone(variant):
    cap = tiny_captioner(variant)
    clips = mixed_clips()
    batch = cap.processor(clips, [PROMPT] * 4)
    lengths = batch.attention_mask.sum(dim=1)
    assert batch.attention_mask[:, -1].all() and int(lengths.min()) < batch.input_ids.shape[1]
    visual_rows = 0
    for b, clip in enumerate(clips):
        single = cap.processor([clip], [PROMPT])
        n = int(lengths[b])
        assert torch.equal(batch.input_ids[b, -n:], single.input_ids[0])
        assert torch.equal(batch.position_ids[..., b, -n:], single.position_ids[..., 0, :])
        visual_rows += single.visual.shape[0]
    assert batch.visual.shape[0] == visual_rows > 0  # pixels of the video clips only
    assert batch.chunks_per_clip == [1, 1, 2, 1]
    if variant == "plus":
        assert batch.video_grid_thw.shape == (2, 3)  # one grid per clip with frames


# --- models ----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_greedy_mixed_batch_equals_single_calls(variant):
    cap = tiny_captioner(variant)
    assert cap.dtype == torch.float32
    clips = mixed_clips()
    batched = cap.caption(clips, PROMPT, GREEDY)
    singles = [cap.caption([clip], PROMPT, GREEDY)[0] for clip in clips]
    assert batched == singles
    assert len(set(batched)) > 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_audio_only_batch_never_runs_the_vision_tower(variant, monkeypatch):
    cap = tiny_captioner(variant)

    def refuse(*args, **kwargs):
        raise AssertionError("vision tower called for audio-only clips")

    if variant == "plus":
        monkeypatch.setattr(cap.model.llm.model, "get_video_features", refuse)
    else:
        monkeypatch.setattr(cap.model, "frame_features", refuse)
    clips = [audio_clip(1.0, 7), audio_clip(3.0, 8)]
    captions = cap.caption(clips, PROMPT, GREEDY)
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)


def test_plus_audio_tokens_are_the_aligner_output_in_order():
    cap = tiny_captioner("plus")
    batch = cap.processor([audio_clip(31.0, 9)], [PROMPT])
    with torch.no_grad():
        embeds = cap.model.embed(batch)[0]
        tokens = cap.model.audio(batch.audio_features, batch.chunks_per_clip)[0]
    is_audio = batch.input_ids[0] == cap.processor.spec.audio_token_id
    torch.testing.assert_close(embeds[is_audio], tokens, rtol=0, atol=0)


def naive_logp(cap, example: TrainExample) -> torch.Tensor:
    """One unpadded example, full logits, the answer tokens' log-probs summed one by one."""
    inputs = cap.processor([example.clip], [example.prompt], [example.answer])
    logits = cap.model(inputs)[0]
    labels = inputs.labels[0]
    return sum(torch.log_softmax(logits[t - 1].float(), dim=-1)[labels[t]]
               for t in range(1, labels.shape[0]) if labels[t] != IGNORE_INDEX)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_logps_of_mixed_rows_equal_naive_and_train_the_aligner(variant):
    cap = tiny_captioner(variant)
    answers = ["he said hello", "a tone plays", "the quick brown fox jumps over the lazy dog", "noise"]
    examples = [TrainExample(c, PROMPT, a) for c, a in zip(mixed_clips(), answers)]
    with torch.no_grad():
        batched = cap.sequence_logps(examples)
        naive = torch.stack([naive_logp(cap, ex) for ex in examples])
    torch.testing.assert_close(batched, naive, atol=1e-4, rtol=1e-5)
    groups = cap.parameter_groups()
    try:
        for name, group in groups.items():
            for p in group:
                p.requires_grad_(name == "audio_aligner")
        cap.sequence_logps([examples[0]]).sum().backward()  # an audio-only ASR row alone
        aligner = cap.model.audio
        for p in (aligner.query_tokens, aligner.proj.weight):
            assert p.grad is not None and p.grad.abs().sum() > 0
    finally:
        for p in cap.model.parameters():
            p.requires_grad_(True)
            p.grad = None


@pytest.mark.parametrize("variant", VARIANTS)
def test_captions_a_wav_file_end_to_end(tmp_path, variant):
    import wave

    path = tmp_path / "speech.wav"
    pcm = (3000 * np.sin(np.arange(24_000) * 2 * np.pi * 300 / 16_000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.tobytes())
    clip = load_audio_clip(path)
    (caption,) = tiny_captioner(variant).caption([clip], PROMPT, GREEDY)
    assert isinstance(caption, str) and caption


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_clip_with_neither_frames_nor_audio_is_a_model_error(variant):
    empty = audio_clip(1.0, 10)
    empty.audio = np.zeros(0, np.float32)
    with pytest.raises(ModelError, match="no frames and no audio"):
        tiny_captioner(variant).caption([empty], PROMPT, GREEDY)
