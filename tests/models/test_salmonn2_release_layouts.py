"""The first release's audio interleave and the 2+ release's generation positions, each against an
independent computation: the release's own tensor operations (``F.interpolate``) and its loop."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from avcap.models.salmonn2.interleave import (
    nearest_stretch_index,
    paper_audio_groups,
    release_audio_groups,
)
from avcap.models.salmonn2.rope import plus_rope_positions, release_inference_positions

from .official.plus import rope_index


def release_layout_by_torch(n: int, l: int, duration_s: float) -> tuple[list[list[int]], list[int]]:  # noqa: E741
    """``prepare_inputs_labels_for_multimodal``'s steps on a tensor whose rows carry their own index."""
    speech = torch.arange(l, dtype=torch.float32)[:, None].repeat(1, 3)  # [l, D]: row k holds k
    front_num = round(duration_s * 50)
    front, back = speech[:front_num], speech[front_num:]
    if front.shape[0] % n:
        size = front.shape[0] + n - front.shape[0] % n
        front = F.interpolate(front.unsqueeze(0).transpose(1, 2), size=size, mode="nearest").transpose(1, 2).squeeze(0)
    per_frame = front.reshape(n, -1, 3)[:, :, 0]
    return [row.long().tolist() for row in per_frame], back[:, 0].long().tolist()


CASES = [(51, 120, 51.0), (7, 60, 7.0), (4, 6, 10.0), (110, 240, 300.0), (2, 60, 0.9), (1, 60, 0.5), (3, 60, 3.0),
         (13, 60, 13.0), (16, 180, 61.0), (9, 0, 9.0)]


@pytest.mark.parametrize("n,l,seconds", CASES)
def test_release_groups_equal_the_release_tensor_steps(n, l, seconds):  # noqa: E741
    if l == 0:  # no audio tokens: every frame gets none (front is empty, nothing to stretch)
        groups, tail = release_audio_groups(n, l, seconds)
        assert all(g.size == 0 for g in groups) and tail.size == 0
        return
    groups, tail = release_audio_groups(n, l, seconds)
    want_groups, want_tail = release_layout_by_torch(n, l, seconds)
    assert [g.tolist() for g in groups] == want_groups and tail.tolist() == want_tail


def test_random_release_groups_equal_the_release_tensor_steps():
    rng = random.Random(0)
    for _ in range(200):
        n, chunks = rng.randint(1, 120), rng.randint(1, 6)
        seconds = rng.uniform(0.2, 30.0 * chunks)
        groups, tail = release_audio_groups(n, 60 * chunks, seconds)
        want_groups, want_tail = release_layout_by_torch(n, 60 * chunks, seconds)
        assert [g.tolist() for g in groups] == want_groups and tail.tolist() == want_tail


def test_nearest_stretch_matches_torch_for_every_size_pair():
    for length in range(1, 50):
        for size in range(length, length + 50):
            src = torch.arange(length, dtype=torch.float32)[None, None]
            want = F.interpolate(src, size=size, mode="nearest")[0, 0].long().numpy()
            np.testing.assert_array_equal(nearest_stretch_index(length, size), want)


def test_the_51_second_example_of_the_issue():
    # 51 frames at 1 fps, two 30 s chunks = 120 tokens: stretched to 153 = 51 x 3, some tokens twice.
    groups, tail = release_audio_groups(51, 120, 51.0)
    assert sum(g.size for g in groups) == 153 and {g.size for g in groups} == {3} and tail.size == 0
    paper, _ = paper_audio_groups(51, 120)  # eq. 4: 120 tokens, each once
    assert sum(g.size for g in paper) == 120
    assert sum(not np.array_equal(a, b) for a, b in zip(groups, paper)) == 33


# ---- 2+ positions -----------------------------------------------------------------------------

T, S, E = 10, 3, 4
CONFIG = {"video_token_id": 6, "audio_token_id": 7, "image_token_id": 8}
VID, AUD = CONFIG["video_token_id"], CONFIG["audio_token_id"]


def _random_prompt(rng, grids: int, gh: int, gw: int, groups: list[int]) -> list[int]:
    ids = [T] * rng.randint(0, 5) + [S]
    for g in groups:
        ids += [VID] * (gh * gw) + [AUD] * g
    return ids + [E] + [T] * rng.randint(0, 6)


@pytest.mark.parametrize("seed", range(25))
def test_both_position_modes_equal_the_release_loop(seed):
    rng = random.Random(seed)
    t, gh, gw = rng.randint(1, 6), rng.randint(1, 3), rng.randint(1, 3)
    second = rng.choice([0.4, 0.5, 1.0, 1.3, 2.0, 3.7])
    idx = (torch.arange(t) * second * 2).long()  # the release's split_into_groups
    audio = rng.choice([0, 60 * (int(idx[-1]) // 60 + 1)])  # none, or the chunks that cover the video
    groups = torch.diff(idx).tolist() + [audio - int(torch.diff(idx).sum())] if audio else [0] * t
    ids = _random_prompt(rng, t, gh, gw, groups)
    grid = (t, 2 * gh, 2 * gw)
    training = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=grid, spatial_merge_size=2,
                                   seconds_per_grid=second, num_audio=audio)
    want = rope_index(CONFIG, ids, grid, second, audio if audio else None)[:, 0]
    assert training.tolist() == want.tolist()
    released = release_inference_positions(ids, video_token_id=VID, grid_thw=grid, spatial_merge_size=2)
    assert released.tolist() == rope_index(CONFIG, ids, grid)[:, 0].tolist()  # no audio lengths, 1.0 s per grid


def test_release_inference_hand_computed():
    # 2 grids of 1x2 merged tokens, 3 audio tokens interleaved: the first 4 tokens of the block (in
    # sequence order, an audio token among them) take the grid's positions (time 0, 0, 2, 2 at 1.0 s
    # per grid); the rest counts on from the largest of them (3 + 2) + 1 = 6.
    ids = [T, T, S, VID, VID, AUD, VID, VID, AUD, AUD, E, T]
    pos = release_inference_positions(ids, video_token_id=VID, grid_thw=(2, 2, 4), spatial_merge_size=2)
    assert pos.tolist() == [
        [0, 1, 2, 3, 3, 5, 5, 6, 7, 8, 9, 10],
        [0, 1, 2, 3, 3, 3, 3, 6, 7, 8, 9, 10],
        [0, 1, 2, 3, 4, 3, 4, 6, 7, 8, 9, 10],
    ]
    # audio-only and text prompts fall through to plain 1D positions in the release's generate()
    assert release_inference_positions([T, S, AUD, AUD, E], video_token_id=VID, grid_thw=None,
                                       spatial_merge_size=2).tolist() == [[0, 1, 2, 3, 4]] * 3
