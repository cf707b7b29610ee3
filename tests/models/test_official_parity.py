"""Parity with the official module trees (tests/models/official): the same weights in both, the
same clip in, the same token ids, positions, logits and greedy tokens out -- for both releases.

The official side builds its inputs the releases' way (dataset.py / av_dataset.py steps written
out in tests/models/official), so a difference in avcap's layouts, positions, key mapping,
encoders or aligners shows up here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from avcap.media.policies import get_policy

from .conftest_salmonn2 import make_clip, tiny_captioner, tiny_dir
from .official import plus as official_plus
from .official import v1 as official_v1

PROMPT = "Describe the video in detail."
TOL = 1e-4  # fp32 on CPU; the measured differences are ~1e-6 (printed by -s)


def _release_state(folder) -> dict:
    files = sorted(folder.glob("*.safetensors"))
    state: dict = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def _report(name, diff, scale=None):
    print(f"parity {name}: max |logit difference| = {diff:.2e}" + (f" (logits up to {scale:.1f})" if scale else ""))


# ---- 2+ ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plus_tree():
    folder = tiny_dir("plus")
    config = json.loads((folder / "config.json").read_text())
    tree = official_plus.VideoSalmonn2Plus(config).eval()
    tree.load_release_weights(_release_state(folder))
    return tree


def _plus_clip(seconds: float, audio: bool = True, seed: int = 0, source_size: bool = False):
    """A clip as the 2+ policy decodes it: frame count and 28-aligned size from the release's rules
    (``source_size``: frames left at the source's 48x64, so both sides resize them)."""
    policy = get_policy("salmonn2-plus")
    times = policy.frame_times(seconds, 10.0, round(seconds * 10))
    h, w = (48, 64) if source_size else policy.content_size(48, 64, len(times))
    clip = make_clip(len(times), seconds, seed=seed, size=(h, w))
    if not audio:
        clip.audio = np.zeros(0, np.float32)
    return clip


def _official_plus(tree, captioner, clip, positions: str):
    extractor = captioner.processor.feature_extractor
    wave = clip.audio if clip.audio.size else None
    inputs, timing = official_plus.video_inputs(captioner.tokenizer, tree.config, clip.frames, wave, clip.duration_s,
                                                PROMPT, extractor)
    ids = inputs["input_ids"][0].tolist()
    if positions == "training":
        pos = official_plus.rope_index(tree.config, ids, timing["grid"], timing["second_per_grid_t"],
                                       timing["audio_length"])
    else:  # generate(): no audio_lengths, no second_per_grid_ts -> the video-only branch at 1.0 s per grid
        pos = official_plus.rope_index(tree.config, ids, timing["grid"])
    return inputs, pos


@pytest.mark.parametrize("seconds,audio,source_size", [(1.6, True, False), (3.7, True, False), (2.0, False, False),
                                                      (2.3, True, True)])
@pytest.mark.parametrize("positions", ["training", "release-inference"])
def test_plus_matches_the_official_tree(plus_tree, seconds, audio, source_size, positions):
    captioner = tiny_captioner("plus")
    clip = _plus_clip(seconds, audio, source_size=source_size)
    inputs, pos = _official_plus(plus_tree, captioner, clip, positions)
    batch = captioner.processor([clip], [PROMPT], positions=positions)
    assert batch.input_ids[0].tolist() == inputs["input_ids"][0].tolist()
    assert torch.equal(batch.position_ids[:, 0], pos[:, 0])
    pixel_diff = float((batch.visual - inputs["pixel_values_videos"]).abs().max())
    print(f"parity 2+ pixels (resized: {source_size}): max |difference| = {pixel_diff:.2e}")
    assert pixel_diff < 1e-5
    with torch.no_grad():
        ours = captioner.model(batch)
    theirs = plus_tree.logits(inputs, pos)
    diff = float((ours - theirs).abs().max())
    _report(f"2+ {seconds}s audio={audio} {positions}", diff, float(theirs.abs().max()))
    assert diff < TOL


def test_plus_greedy_generation_matches_the_release_generate(plus_tree):
    captioner = tiny_captioner("plus")
    clip = _plus_clip(3.7)
    inputs, pos = _official_plus(plus_tree, captioner, clip, "release-inference")
    batch = captioner.processor([clip], [PROMPT], positions=captioner.caption_positions)
    assert captioner.caption_positions == "release-inference"  # the 2+ default: as the release generates
    ours = captioner.model.generate(batch, max_new_tokens=6, do_sample=False, eos_token_id=[],
                                    pad_token_id=captioner.processor.pad_token_id)[0].tolist()
    assert ours == plus_tree.greedy(inputs, pos, 6)


def test_plus_image_rows_match_the_release_image_path(plus_tree):
    captioner = tiny_captioner("plus")
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    from avcap.media.clip import Clip

    clip = Clip(path="x.png", frames=image[None], frame_times=np.zeros(1), audio=np.zeros(0, np.float32),
                duration_s=0.0, has_audio=False, policy="image", meta={"image": True})
    inputs, grid = official_plus.image_inputs(captioner.tokenizer, plus_tree.config, image, PROMPT)
    pos = official_plus.rope_index(plus_tree.config, inputs["input_ids"][0].tolist(), grid, image=True)
    for positions in ("training", "release-inference"):  # the image branch is the same in both
        batch = captioner.processor([clip], [PROMPT], positions=positions)
        assert batch.input_ids[0].tolist() == inputs["input_ids"][0].tolist()
        assert torch.equal(batch.position_ids[:, 0], pos[:, 0])
    with torch.no_grad():
        ours = captioner.model(batch)
    diff = float((ours - plus_tree.logits(inputs, pos)).abs().max())
    _report("2+ image", diff)
    assert diff < TOL


# ---- first release ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v1_tree():
    folder = tiny_dir("v1")
    config = json.loads((folder / "config.json").read_text())
    spec = tiny_captioner("v1").model.spec
    q = dict(hidden_size=spec.aligner.qformer_hidden_size, num_hidden_layers=spec.aligner.qformer_layers,
             num_attention_heads=spec.aligner.qformer_heads, intermediate_size=spec.aligner.qformer_intermediate_size,
             encoder_width=int(spec.aligner.whisper["d_model"]))
    tree = official_v1.VideoSalmonn2(config, spec.vision, spec.aligner.whisper, q).eval()
    missing, unexpected = tree.load_state_dict(_release_state(folder), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return tree


def _official_v1(tree, captioner, clip, prefix: str = ""):
    side = int(captioner.model.spec.vision["image_size"])
    pixels = official_v1.siglip_pixels(clip.frames, side)
    ids = official_v1.prompt_ids(captioner.tokenizer, PROMPT, prefix)
    if clip.audio.size:
        block = tree.av_block(pixels, official_v1.spectrogram(clip.audio, clip.duration_s,
                                                              captioner.processor.feature_extractor), clip.duration_s)
    else:
        times = official_v1.time_token_ids(captioner.tokenizer, clip.num_frames, clip.duration_s)
        block = tree.av_block(pixels, None, clip.duration_s, times)
    return tree.embed(ids, block)


@pytest.mark.parametrize("frames,seconds", [(7, 7.0), (2, 0.9), (3, 2.5), (51, 51.0)])
def test_v1_matches_the_official_tree(v1_tree, frames, seconds):
    captioner = tiny_captioner("v1")
    clip = make_clip(frames, seconds, seed=frames)
    assert captioner.processor.interleave == "release"  # the default: the layout the weights were trained on
    embeds = _official_v1(v1_tree, captioner, clip)
    batch = captioner.processor([clip], [PROMPT])
    with torch.no_grad():
        ours_embeds = captioner.model.embed(batch)
        ours = captioner.model(batch)
    assert ours_embeds.shape == embeds.shape
    theirs = v1_tree.logits(embeds)
    diff = float((ours - theirs).abs().max())
    _report(f"v1 {frames} frames {seconds}s", diff, float(theirs.abs().max()))
    assert diff < TOL
    if frames in (7, 51):  # eq. 4 splits these differently (l % n != 0): the paper's layout is not the release's
        captioner.set_input_options(interleave="paper")
        try:
            with torch.no_grad():
                paper = captioner.model.embed(captioner.processor([clip], [PROMPT]))
        finally:
            captioner.set_input_options(interleave="release")
        assert paper.shape != embeds.shape or float((paper - embeds).abs().max()) > 1e-3


def test_v1_visual_only_rows_get_the_release_time_tokens(v1_tree):
    captioner = tiny_captioner("v1")
    clip = make_clip(12, 11.5, seed=5, empty_audio=True)  # times 0.96 .. 11.5: "1.0" to "11.5", unequal lengths
    lengths = {len(t) for t in official_v1.time_token_ids(captioner.tokenizer, 12, 11.5)}
    assert len(lengths) > 1  # so the zero padding is exercised
    embeds = _official_v1(v1_tree, captioner, clip)
    with torch.no_grad():
        ours = captioner.model(captioner.processor([clip], [PROMPT]))
    diff = float((ours - v1_tree.logits(embeds)).abs().max())
    _report("v1 visual only (time tokens)", diff)
    assert diff < TOL


def test_v1_greedy_generation_with_a_prefix_matches_the_release(v1_tree):
    captioner = tiny_captioner("v1")
    clip = make_clip(7, 7.0, seed=1)
    prefix = "A red square"
    embeds = _official_v1(v1_tree, captioner, clip, prefix)
    batch = captioner.processor([clip], [PROMPT], prefixes=[prefix])
    ours = captioner.model.generate(batch, max_new_tokens=5, do_sample=False, eos_token_id=[],
                                    pad_token_id=captioner.processor.pad_token_id)[0].tolist()
    assert ours == v1_tree.greedy(embeds, 5)
