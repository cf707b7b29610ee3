"""Where each audio token goes: the audio-visual interleaving of video-SALMONN 2 (§3.1, eqs. 1-6).

Pure functions on integers and arrays; the models only read the layouts they return.

Eq. 4 gives frame i the audio tokens ``[α_{i-1}, α_i)`` with ``α_i = ⌊l·i/n⌋`` (l audio
tokens, n frames, α_0 = 0, α_n = l), and eq. 5 puts them right after that frame's visual
tokens. The two releases choose ``l`` differently:

* first release: ``l`` is every audio token of the clip (60 per started 30 s chunk, so the
  zero padding of the last chunk is spread too) -- ``audio_boundaries(n, l)``;
* 2+ release (``split_into_groups`` in its ``dataset.py``): the boundaries follow time, at
  2 tokens per second: ``α_i = ⌊2·s·i⌋`` for a temporal grid of ``s`` seconds, i.e. eq. 4
  with ``l = 2·n·s`` (the tokens that span the frames); the tokens left over (the padding of
  the last chunk) follow the last frame -- ``timed_audio_boundaries(n, l, s)``.

The first release's *code* does not use eq. 4 as written (``prepare_inputs_labels_for_multimodal``
in ``video_salmonn_2.py``): it takes the first ``round(50 * T)`` audio tokens (T the clip's
duration; in practice all of them, padding chunk included), stretches them by nearest
interpolation to the next multiple of n when n does not divide their number, and gives each frame
an equal slice; tokens past ``round(50 * T)`` (only for clips under ~1.2 s) follow the last frame --
``release_audio_groups(n, l, T)``. A 51 s clip has 120 tokens, stretched to 153, 3 per frame, so
some tokens appear twice and 33 of the 51 frames receive other tokens than eq. 4 gives them. The
released weights were trained on that layout, so it is the default for first-release checkpoints;
eq. 4 stays available as ``paper_audio_groups``.

Silent video and ``l = 0``: avcap's media layer zero-fills the audio of a video without an
audio stream, so the model hears silence, as it would from a silent track; ``l = 0`` only
happens when a caller passes an empty waveform, and then every frame gets no audio tokens
(both releases then fall back to their visual-only input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

VISUAL = 0  # token kinds in a layout
AUDIO = 1


def _check_counts(n: int, l: int) -> None:  # noqa: E741 - l is the paper's symbol
    if n < 1:
        raise ValueError(f"number of frames must be >= 1, got {n}")
    if l < 0:
        raise ValueError(f"number of audio tokens must be >= 0, got {l}")


def audio_boundaries(n: int, l: int) -> list[int]:  # noqa: E741
    """α_0..α_n of eq. 4 with the floor: ``α_i = ⌊l·i/n⌋`` (exact integer arithmetic).

    >>> audio_boundaries(4, 6)
    [0, 1, 3, 4, 6]
    """
    _check_counts(n, l)
    return [(l * i) // n for i in range(n + 1)]


def nearest_stretch_index(length: int, size: int) -> np.ndarray:
    """Source index of each of ``size`` outputs of ``torch.nn.functional.interpolate(mode="nearest")``
    from ``length`` inputs: ``min(floor(i * (length / size)), length - 1)`` in float32, as ATen's
    kernel computes it (identity when the sizes match, ``i >> 1`` when ``size == 2 * length``)."""
    if length < 1 or size < 1:
        raise ValueError(f"need length and size >= 1, got {length}, {size}")
    i = np.arange(size, dtype=np.int64)
    if size == length:
        return i
    if size == 2 * length:
        return i >> 1
    scale = np.float32(np.float32(length) / np.float32(size))
    return np.minimum(np.floor(i.astype(np.float32) * scale).astype(np.int64), length - 1)


def paper_audio_groups(n: int, l: int) -> tuple[list[np.ndarray], np.ndarray]:  # noqa: E741
    """Eq. 4 as groups: frame i gets tokens ``[α_{i-1}, α_i)``; nothing follows the last frame."""
    bounds = audio_boundaries(n, l)
    return [np.arange(bounds[i], bounds[i + 1]) for i in range(n)], np.zeros(0, dtype=np.int64)


def release_audio_groups(n: int, l: int, duration_s: float, front_per_second: int = 50) -> tuple[list[np.ndarray], np.ndarray]:  # noqa: E741
    """The first release's layout: the audio token indices after each frame, and after the last.

    ``front = min(l, round(front_per_second * T))`` tokens (the release's ``round(sample_time * 50)``;
    it counts 50 per second although the Q-Former gives 2) are interleaved, the rest follow the
    block. When n does not divide ``front`` they are stretched to ``m = front + n - front % n``
    by nearest interpolation (``nearest_stretch_index``) and frame i takes slice i of m / n.

    >>> [g.tolist() for g in release_audio_groups(4, 6, 10.0)[0]]   # 6 tokens -> 8: 0 0 1 2 3 3 4 5
    [[0, 0], [1, 2], [3, 3], [4, 5]]
    """
    _check_counts(n, l)
    front = min(l, round(duration_s * front_per_second))
    index = np.arange(front, dtype=np.int64)
    if front % n:
        index = index[nearest_stretch_index(front, front + n - front % n)]
    per = index.size // n
    return [index[i * per:(i + 1) * per] for i in range(n)], np.arange(front, l, dtype=np.int64)


def grouped_layout(visual_per_unit: Sequence[int] | int, groups: Sequence[Sequence[int]],
                   tail: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Eqs. 5-6 with explicit groups: frame i's visual tokens, then the audio tokens ``groups[i]``
    (indices into the clip's audio tokens, repeats allowed), then ``tail`` after the last frame."""
    n = len(groups)
    if n < 1:
        raise ValueError("need at least one frame")
    counts = [visual_per_unit] * n if isinstance(visual_per_unit, int) else list(visual_per_unit)
    if len(counts) != n:
        raise ValueError(f"{len(counts)} visual counts for {n} frames")
    layout: list[tuple[int, int]] = []
    visual = 0
    for i in range(n):
        layout.extend((VISUAL, visual + j) for j in range(counts[i]))
        visual += counts[i]
        layout.extend((AUDIO, int(a)) for a in groups[i])
    layout.extend((AUDIO, int(a)) for a in tail)
    return layout


def half_second_index(index: Sequence[int] | np.ndarray, seconds_per_unit: float) -> np.ndarray:
    """``⌊index · s · 2⌋`` computed in float32, as the 2+ code does with torch (``arange(g) * s * 2``).

    The 2+ release measures time in half seconds (2 audio tokens per second); the same
    values place the audio groups and the temporal M-RoPE positions of the video grids, so
    both must use this one rounding.
    """
    idx = np.asarray(index, dtype=np.float32)
    return np.floor(idx * np.float32(seconds_per_unit) * np.float32(2.0)).astype(np.int64)


def timed_audio_boundaries(n: int, l: int, seconds_per_unit: float) -> list[int]:  # noqa: E741
    """α_0..α_n for the 2+ release: ``α_i = min(l, ⌊2·s·i⌋)`` for i < n, and ``α_n = l``.

    ``s`` is the duration of one visual unit (one temporal grid of 2 frames in Qwen2.5-VL).
    Clamping to ``l`` keeps the groups non-negative when the audio is shorter than the video
    (the official code would produce a negative last group there).

    >>> timed_audio_boundaries(3, 60, 2.0)   # 6 s of video, one 30 s chunk
    [0, 4, 8, 60]
    """
    _check_counts(n, l)
    if not seconds_per_unit > 0:
        raise ValueError(f"seconds per unit must be > 0, got {seconds_per_unit}")
    inner = np.minimum(half_second_index(np.arange(n), seconds_per_unit), l).tolist()
    return [int(a) for a in inner] + [l]


def interleave_layout(visual_per_unit: Sequence[int] | int, boundaries: Sequence[int]) -> list[tuple[int, int]]:
    """The token sequence of eqs. 5-6 as ``(kind, index)`` pairs.

    ``visual_per_unit``: visual tokens of each frame (an int when all are equal);
    ``boundaries``: α_0..α_n from one of the functions above. Visual indices count the
    visual tokens of the whole clip in order, audio indices the audio tokens, so a model can
    scatter its two feature streams into the sequence in order.
    """
    n = len(boundaries) - 1
    if n < 1:
        raise ValueError("boundaries must hold α_0..α_n with n >= 1")
    counts = [visual_per_unit] * n if isinstance(visual_per_unit, int) else list(visual_per_unit)
    if len(counts) != n:
        raise ValueError(f"{len(counts)} visual counts for {n} frames")
    if boundaries[0] != 0 or any(b > a for a, b in zip(boundaries[1:], boundaries[:-1])):
        raise ValueError(f"boundaries must start at 0 and not decrease: {list(boundaries)}")
    layout: list[tuple[int, int]] = []
    visual = 0
    for i in range(n):
        layout.extend((VISUAL, visual + j) for j in range(counts[i]))
        visual += counts[i]
        layout.extend((AUDIO, a) for a in range(boundaries[i], boundaries[i + 1]))
    return layout


def layout_kinds(layout: Sequence[tuple[int, int]]) -> np.ndarray:
    """Just the kinds of a layout, shape [len(layout)] (``VISUAL`` or ``AUDIO``)."""
    return np.asarray([kind for kind, _ in layout], dtype=np.int64)


def segment_position_embedding(num_chunks: int, dim: int) -> np.ndarray:
    """Segment-level position embedding of eq. 1, one row per 30 s chunk, shape [num_chunks, dim].

    As the first release computes it (``sinusoidal_position``): chunk 0 gets zeros, chunk
    j >= 1 gets the interleaved transformer sinusoid of position j-1,
    ``[sin(p·w_0), cos(p·w_0), sin(p·w_1), ...]`` with ``w_k = 10000^(-2k/dim)``. The release
    adds it to the projected audio tokens of each chunk (after the aligner, while the paper's
    text says before it); avcap follows the checkpoint.
    """
    if num_chunks < 0 or dim < 2 or dim % 2:
        raise ValueError(f"need num_chunks >= 0 and an even dim >= 2, got {num_chunks}, {dim}")
    table = np.zeros((num_chunks, dim), dtype=np.float32)
    if num_chunks > 1:
        position = np.arange(num_chunks - 1, dtype=np.float64)[:, None]
        freq = np.exp(np.arange(0, dim, 2, dtype=np.float64) * -(math.log(10000.0) / dim))
        table[1:, 0::2] = np.sin(position * freq)
        table[1:, 1::2] = np.cos(position * freq)
    return table


def window_count(encoder_frames: int, window: int, stride: int) -> int:
    """Windows of the window-level Q-Former over one chunk (no padding): ⌊(T - k)/s⌋ + 1."""
    if window < 1 or stride < 1 or encoder_frames < window:
        raise ValueError(f"cannot cut windows of {window} (stride {stride}) from {encoder_frames} frames")
    return (encoder_frames - window) // stride + 1
