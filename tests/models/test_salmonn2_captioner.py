"""The salmonn2 Captioner end to end: generated video in, captions out; batching; log-probs and gradients."""

from __future__ import annotations

import pytest
import torch

from avcap.errors import ModelError
from avcap.media import load_clip
from avcap.models.base import Captioner, GenerationConfig, TrainExample
from avcap.models.salmonn2.processing import IGNORE_INDEX
from avcap.synth.sample import SampleVideoSpec, write_sample_video

from .conftest_salmonn2 import make_clip, tiny_captioner

VARIANTS = ["plus", "v1"]
PROMPT = "Please describe the video in detail."
GREEDY = GenerationConfig(max_new_tokens=6)


def four_clips():
    """Different frame counts and audio lengths (one over 30 s: two chunks), so padding matters."""
    return [make_clip(3, 3.0, seed=1), make_clip(1, 0.8, seed=2), make_clip(6, 31.0, seed=3),
            make_clip(2, 2.0, seed=4, audio=False)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_captions_a_generated_video_end_to_end(tmp_path, variant):
    path = write_sample_video(tmp_path / "clip.mp4", SampleVideoSpec(duration_s=2.0, fps=8, width=64, height=48))
    clip = load_clip(path, policy="salmonn2")
    captioner = tiny_captioner(variant)
    assert isinstance(captioner, Captioner)
    own = {"plus": "salmonn2-plus", "v1": "salmonn2"}[variant]  # each release's own frame policy
    assert (captioner.family, captioner.frame_policy) == ("salmonn2", own)
    (caption,) = captioner.caption([clip], PROMPT, GREEDY)
    assert isinstance(caption, str) and caption
    assert captioner.caption([], PROMPT, GREEDY) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_greedy_batch_of_four_equals_four_single_calls(variant):
    captioner = tiny_captioner(variant)
    clips = four_clips()
    batched = captioner.caption(clips, PROMPT, GREEDY)
    singles = [captioner.caption([clip], PROMPT, GREEDY)[0] for clip in clips]
    assert batched == singles
    assert len(set(batched)) > 1  # the clips really differ


def test_batched_inputs_are_left_padded_with_per_example_positions():
    captioner = tiny_captioner("plus")
    clips = four_clips()
    batch = captioner.processor(clips, [PROMPT] * 4)
    lengths = batch.attention_mask.sum(dim=1)
    assert batch.attention_mask[:, -1].all() and int(lengths.min()) < batch.input_ids.shape[1]
    for b, clip in enumerate(clips):
        single = captioner.processor([clip], [PROMPT])
        n = int(lengths[b])
        assert torch.equal(batch.input_ids[b, -n:], single.input_ids[0])
        assert torch.equal(batch.position_ids[:, b, -n:], single.position_ids[:, 0])
    assert batch.chunks_per_clip == [1, 1, 2, 1]
    audio_tokens = (batch.input_ids == captioner.processor.spec.audio_token_id).sum(dim=1)
    assert audio_tokens.tolist() == [60, 60, 120, 60]


@pytest.mark.parametrize("variant", VARIANTS)
def test_samples_are_clip_major_and_seeded(variant):
    captioner = tiny_captioner(variant)
    clips = [make_clip(2, 2.0, seed=5), make_clip(4, 4.0, seed=6)]
    greedy = captioner.caption(clips, PROMPT, GREEDY)
    # A temperature near 0 samples the greedy answer: order shows clip-major grouping.
    cold = GenerationConfig(max_new_tokens=6, temperature=1e-4, num_samples=3, seed=0)
    assert captioner.caption(clips, PROMPT, cold) == [greedy[0]] * 3 + [greedy[1]] * 3
    hot = GenerationConfig(max_new_tokens=6, temperature=1.5, num_samples=3, seed=7)
    first = captioner.caption(clips, PROMPT, hot)
    assert len(first) == 6 and captioner.caption(clips, PROMPT, hot) == first


@pytest.mark.parametrize("variant", VARIANTS)
def test_silent_and_audio_free_clips(variant):
    captioner = tiny_captioner(variant)
    silent = make_clip(2, 2.0, seed=8, audio=False)  # media zero-fills a video without audio
    no_samples = make_clip(2, 2.0, seed=8, empty_audio=True)  # l = 0: visual tokens only
    batch = captioner.processor([silent, no_samples], [PROMPT] * 2)
    assert batch.chunks_per_clip == [1, 0]
    assert len(captioner.caption([silent, no_samples], PROMPT, GREEDY)) == 2


def naive_logp(captioner, example: TrainExample) -> torch.Tensor:
    """One example, full logits over every position, sum of the answer tokens' log-probs."""
    inputs = captioner.processor([example.clip], [example.prompt], [example.answer])
    logits = captioner.model(inputs)[0]  # [L, V]
    labels = inputs.labels[0]
    total = torch.zeros(())
    for t in range(1, labels.shape[0]):
        if labels[t] != IGNORE_INDEX:
            total = total + torch.log_softmax(logits[t - 1].float(), dim=-1)[labels[t]]
    return total


def training_examples():
    clips = four_clips()
    answers = ["A red square moves.", "A tone plays while the camera pans slowly over a busy street.", "Noise.",
               "A dog barks twice and a door closes."]
    return [TrainExample(clip=c, prompt=PROMPT, answer=a) for c, a in zip(clips, answers)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_logps_equal_naive_per_example_sums(variant):
    captioner = tiny_captioner(variant)
    examples = training_examples()
    with torch.no_grad():
        batched = captioner.sequence_logps(examples)
        naive = torch.stack([naive_logp(captioner, ex) for ex in examples])
    assert batched.shape == (4,)
    torch.testing.assert_close(batched, naive, atol=1e-4, rtol=1e-5)
    assert (batched < 0).all()
    with torch.no_grad():
        again, counts = captioner.sequence_logps(examples, return_counts=True)
    torch.testing.assert_close(again, batched)
    labels = captioner.processor([ex.clip for ex in examples], [ex.prompt for ex in examples],
                                 [ex.answer for ex in examples]).labels
    # Every labelled answer position is scored once.
    assert counts.tolist() == [int((row != -100).sum()) for row in labels]


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_reach_the_audio_aligner_with_frozen_encoders_and_llm(variant):
    captioner = tiny_captioner(variant)
    groups = captioner.parameter_groups()
    all_params = list(captioner.model.parameters())
    ids = [id(p) for group in groups.values() for p in group]
    assert len(ids) == len(set(ids)) == len({id(p) for p in all_params})  # disjoint and complete
    assert captioner.audio_aligner_parameters() == groups["audio_aligner"]
    assert captioner.llm_parameters() == groups["llm"]
    try:
        for name, group in groups.items():
            for p in group:
                p.requires_grad_(name == "audio_aligner")
        captioner.sequence_logps(training_examples()[:2]).sum().backward()
        aligner = captioner.model.audio
        for p in (aligner.query_tokens, aligner.proj.weight, next(aligner.qformer.parameters())):
            assert p.grad is not None and p.grad.abs().sum() > 0
        assert all(p.grad is None for p in groups["llm"] + groups["audio_encoder"])
    finally:
        for p in all_params:
            p.requires_grad_(True)
            p.grad = None


def test_frameless_clip_without_audio_is_a_model_error():
    # A frameless clip with audio is an audio-only clip (test_salmonn2_audio_only.py); with no
    # audio samples either there is nothing to encode.
    clip = make_clip(1, 1.0, empty_audio=True)
    clip.frames = clip.frames[:0]
    with pytest.raises(ModelError):
        tiny_captioner("plus").caption([clip], PROMPT, GREEDY)
    bad = make_clip(1, 1.0)
    bad.frames = bad.frames[..., 0]  # [N, H, W]: not RGB frames
    with pytest.raises(ModelError):
        tiny_captioner("plus").caption([bad], PROMPT, GREEDY)
