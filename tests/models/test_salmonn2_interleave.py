"""Interleaving (eqs. 4-6), segment embedding (eq. 1), windows and 2+ M-RoPE positions, checked exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avcap.models.salmonn2.audio import cut_windows
from avcap.models.salmonn2.interleave import (
    AUDIO,
    VISUAL,
    audio_boundaries,
    interleave_layout,
    segment_position_embedding,
    timed_audio_boundaries,
    window_count,
)
from avcap.models.salmonn2.rope import plus_rope_positions

# (n frames, l audio tokens): n > l, l > n, n == l, n = 1, l = 0, non-divisible mixes.
CASES = [(5, 3), (3, 7), (4, 4), (1, 60), (1, 0), (6, 0), (7, 120), (110, 1860), (16, 5), (2, 1)]


def brute_alpha(n: int, l: int, i: int) -> int:  # noqa: E741 - the paper's symbols
    """The largest a with a·n <= l·i, i.e. ⌊l·i/n⌋, by counting up."""
    a = 0
    while (a + 1) * n <= l * i:
        a += 1
    return a


@pytest.mark.parametrize("n,l", CASES)
def test_boundaries_match_floor_of_eq4(n, l):  # noqa: E741
    assert audio_boundaries(n, l) == [brute_alpha(n, l, i) for i in range(n + 1)]


def test_boundaries_hand_computed():
    assert audio_boundaries(4, 6) == [0, 1, 3, 4, 6]  # 1.5, 3, 4.5 floored
    assert audio_boundaries(3, 2) == [0, 0, 1, 2]  # n > l: the first frame gets no audio
    assert audio_boundaries(2, 5) == [0, 2, 5]
    assert audio_boundaries(1, 5) == [0, 5]
    assert audio_boundaries(3, 0) == [0, 0, 0, 0]


def test_boundaries_reject_bad_counts():
    with pytest.raises(ValueError):
        audio_boundaries(0, 3)
    with pytest.raises(ValueError):
        audio_boundaries(2, -1)


def test_layout_hand_computed():
    # 3 frames of 2 visual tokens, 4 audio tokens: α = [0, 1, 2, 4].
    layout = interleave_layout(2, audio_boundaries(3, 4))
    V, A = VISUAL, AUDIO  # noqa: N806
    assert layout == [(V, 0), (V, 1), (A, 0), (V, 2), (V, 3), (A, 1), (V, 4), (V, 5), (A, 2), (A, 3)]


@pytest.mark.parametrize("n,l", CASES)
@pytest.mark.parametrize("visual", [1, 3])
def test_layout_is_eq5_frame_by_frame(n, l, visual):  # noqa: E741
    layout = interleave_layout(visual, audio_boundaries(n, l))
    # Rebuild eq. 6 naively: H = concat over frames of [visual tokens of i, audio α_{i-1}..α_i).
    expected = []
    for i in range(1, n + 1):
        expected += [(VISUAL, (i - 1) * visual + j) for j in range(visual)]
        expected += [(AUDIO, a) for a in range(brute_alpha(n, l, i - 1), brute_alpha(n, l, i))]
    assert layout == expected
    assert sum(k == AUDIO for k, _ in layout) == l


def test_layout_with_per_frame_counts_and_errors():
    assert interleave_layout([1, 2], [0, 1, 1]) == [(VISUAL, 0), (AUDIO, 0), (VISUAL, 1), (VISUAL, 2)]
    with pytest.raises(ValueError):
        interleave_layout([1, 2, 3], [0, 1, 1])
    with pytest.raises(ValueError):
        interleave_layout(1, [0, 2, 1])


def official_split_into_groups(count: int, grids: int, second: float) -> list[int]:
    """The 2+ release's ``split_into_groups`` (timed branch), rewritten as the reference."""
    frame_idx = (torch.arange(grids) * second * 2).long()
    groups = torch.diff(frame_idx).tolist()
    return groups + [count - sum(groups)]


@pytest.mark.parametrize("grids,count,second", [(5, 60, 2.0), (3, 60, 0.4), (17, 120, 1.9), (1, 60, 2.0),
                                                 (50, 60, 0.2), (7, 60, 0.35), (12, 180, 2.0 / 3.0)])
def test_timed_boundaries_match_release_groups(grids, count, second):
    bounds = timed_audio_boundaries(grids, count, second)
    groups = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    assert groups == official_split_into_groups(count, grids, second)


def test_timed_boundaries_are_eq4_with_l_the_tokens_spanning_the_frames():
    # 5 grids of 2 s = 10 s of video = 20 tokens at 2 tokens/s; the chunk's other 40 follow the last frame.
    bounds = timed_audio_boundaries(5, 60, 2.0)
    assert bounds[:-1] == audio_boundaries(5, 20)[:-1] == [0, 4, 8, 12, 16]
    assert bounds[-1] == 60


def test_timed_boundaries_clamp_short_audio_and_zero_audio():
    assert timed_audio_boundaries(4, 3, 2.0) == [0, 3, 3, 3, 3]
    assert timed_audio_boundaries(3, 0, 2.0) == [0, 0, 0, 0]
    with pytest.raises(ValueError):
        timed_audio_boundaries(3, 10, 0.0)


def test_segment_embedding_hand_computed():
    table = segment_position_embedding(3, 4)
    assert table.shape == (3, 4)
    np.testing.assert_array_equal(table[0], [0, 0, 0, 0])  # the first chunk gets nothing
    np.testing.assert_allclose(table[1], [0, 1, 0, 1], atol=1e-7)  # position 0: sin 0, cos 0
    # position 1, frequencies 10000^(-0/4) = 1 and 10000^(-2/4) = 1/100
    np.testing.assert_allclose(table[2], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], rtol=1e-6)
    assert segment_position_embedding(0, 4).shape == (0, 4)
    with pytest.raises(ValueError):
        segment_position_embedding(2, 3)


def test_windows_match_release_unfold():
    hidden = torch.randn(2, 1500, 6)
    ours = cut_windows(hidden, 25, 25)
    # The release: F.unfold over [B, C, 1, T] with kernel (1, k), view, permute [0, 3, 2, 1].
    unfolded = torch.nn.functional.unfold(hidden.transpose(1, 2).unsqueeze(2), kernel_size=(1, 25), stride=(1, 25))
    ref = unfolded.view(2, -1, 25, unfolded.shape[-1]).permute(0, 3, 2, 1).reshape(-1, 25, 6)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert ours.shape == (2 * 60, 25, 6)
    assert window_count(1500, 25, 25) == 60  # one query per 0.5 s: 60 tokens per 30 s chunk
    assert window_count(1500, 50, 25) == 59
    with pytest.raises(ValueError):
        window_count(10, 25, 25)


# Token ids for the M-RoPE examples.
T, S, E, VID, AUD = 10, 3, 4, 6, 7


def test_mrope_hand_computed_audio_visual():
    # 2 temporal grids of 1x2 merged tokens (grid_thw 2x2x4, merge 2), 1.5 s each; 3 audio tokens.
    ids = [T, T, S, VID, VID, AUD, VID, VID, AUD, AUD, E, T]
    pos = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=(2, 2, 4),
                              spatial_merge_size=2, seconds_per_grid=1.5, num_audio=3)
    # video (grid t, row r, col c) -> (3 + ⌊2·1.5·t⌋, 3 + r, 3 + c); audio k -> (3 + k, 3, 3 + k);
    # the text after continues from the largest time position (6) + 1.
    assert pos.tolist() == [
        [0, 1, 2, 3, 3, 3, 6, 6, 4, 5, 7, 8],
        [0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 7, 8],
        [0, 1, 2, 3, 4, 3, 3, 4, 4, 5, 7, 8],
    ]


def test_mrope_hand_computed_visual_only_and_text_only():
    ids = [T, T, S, VID, VID, VID, VID, E, T]
    pos = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=(2, 2, 4),
                              spatial_merge_size=2, seconds_per_grid=1.5, num_audio=0)
    assert pos.tolist() == [
        [0, 1, 2, 3, 3, 6, 6, 7, 8],
        [0, 1, 2, 3, 3, 3, 3, 7, 8],
        [0, 1, 2, 3, 4, 3, 4, 7, 8],
    ]
    text = plus_rope_positions([T, T, T], video_token_id=VID, audio_token_id=AUD, grid_thw=None,
                               spatial_merge_size=2, seconds_per_grid=1.0, num_audio=0)
    assert text.tolist() == [[0, 1, 2]] * 3


def test_mrope_audio_and_video_share_the_half_second_clock():
    # 3 grids of 2 s and 12 audio tokens placed by the timed boundaries: the audio token at time
    # 0.5 k s takes time position base + k, the grid starting at 2 t s takes base + 4 t.
    bounds = timed_audio_boundaries(3, 12, 2.0)
    layout = interleave_layout(1, bounds)
    ids = [T, S] + [VID if kind == VISUAL else AUD for kind, _ in layout] + [E]
    pos = plus_rope_positions(ids, video_token_id=VID, audio_token_id=AUD, grid_thw=(3, 2, 2),
                              spatial_merge_size=2, seconds_per_grid=2.0, num_audio=12)
    video_time = pos[0][np.asarray(ids) == VID] - 2
    audio_time = pos[0][np.asarray(ids) == AUD] - 2
    assert video_time.tolist() == [0, 4, 8]
    assert audio_time.tolist() == list(range(12))
    # each grid is followed by the audio of its own 2 s (tokens 4t .. 4t+3): time runs in sequence order
    assert (pos[0][2:-1] - 2).tolist() == [0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10, 11]


def test_mrope_rejects_inconsistent_blocks():
    kwargs = dict(video_token_id=VID, audio_token_id=AUD, grid_thw=(1, 2, 4), spatial_merge_size=2,
                  seconds_per_grid=1.0)
    with pytest.raises(ValueError):
        plus_rope_positions([T, VID, VID, AUD, E], num_audio=2, **kwargs)  # one audio token short
    with pytest.raises(ValueError):
        plus_rope_positions([T, VID, E, VID, AUD], num_audio=1, **kwargs)  # text inside the block
    with pytest.raises(ValueError):
        plus_rope_positions([T, T], num_audio=0, **kwargs)  # grid without video tokens
