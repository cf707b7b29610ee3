"""M-RoPE positions of the 2+ release: audio tokens on the same time axis as the video grids.

Qwen2.5-VL gives every token three rotary positions (time, height, width). The 2+ release
(``get_rope_index`` in its ``modeling_qwen2_5_vl.py`` / ``rope2d.py``, audio-visual branch)
measures time in half seconds, so audio token k (0.5 s each) and video grid t (``s`` seconds
each) share one clock:

* text before the video: ``p, p, p`` counting from 0;
* with ``b`` the position after that text, video token (grid t, row r, column c) gets
  ``(b + ⌊2·s·t⌋, b + r, b + c)`` and audio token k gets ``(b + k, b, b + k)``, each stream in
  its own order however eq. 5 interleaves them;
* text after the block continues from the block's largest *time* position + 1 (the video-only
  case continues from its largest position of any axis + 1, as Qwen2.5-VL does).

An audio-only block (no video grid: an ASR / audio-caption row, the release's ``<audio>``
placeholder) takes the release's audio-only branch of ``get_rope_index`` instead: with ``b``
the position after the text before it, audio token k gets ``(b + k, b + k, b)`` -- time and
*height* count the tokens, width stays put, where the audio-visual branch above counts time and
*width* -- and the text after continues from ``b + num_audio``.

Generation continues from the last position + 1. This is a pure function of the token ids.

Those are the positions the release *trains* with. Its ``generate()`` never sees them: its
``prepare_inputs_for_generation`` sets ``position_ids`` to None, and ``inference.py`` /
``train_qwen.py`` pass neither ``audio_lengths`` (popped at test time) nor ``second_per_grid_ts``
(a list, dropped with the non-tensors), so the prefill recomputes positions in the *video-only*
branch of ``get_rope_index`` with 1.0 s per temporal grid -- ``release_inference_positions``:
the first ``t·h·w/merge²`` tokens from the first video token, in sequence order and whatever
their kind (audio tokens included), get the video grid's ``(b + 2·t, b + r, b + c)``; every token
after them counts on from the largest of those + 1. An audio-only or text-only prompt gets plain
positions ``0, 1, 2, ...`` there. The paper's reported numbers come from that path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avcap.models.salmonn2.interleave import half_second_index


def plus_rope_positions(
    input_ids: Sequence[int],
    *,
    video_token_id: int,
    audio_token_id: int,
    grid_thw: tuple[int, int, int] | None,
    spatial_merge_size: int,
    seconds_per_grid: float,
    num_audio: int,
) -> np.ndarray:
    """Positions [3, L] for one unpadded sequence holding at most one video block.

    The block starts at the first video token and holds exactly ``t·h·w/merge²`` video tokens
    and ``num_audio`` audio tokens (any interleaving); a ValueError names what does not fit.
    With ``grid_thw`` None the sequence holds no video token and at most one contiguous block
    of ``num_audio`` audio tokens (an audio-only clip; ``num_audio`` 0: text only).
    """
    ids = np.asarray(input_ids, dtype=np.int64)
    length = ids.shape[0]
    is_video = ids == video_token_id
    is_audio = ids == audio_token_id
    if grid_thw is None:
        if is_video.any():
            raise ValueError("video tokens without a video grid")
        return _audio_only_positions(is_audio, num_audio)
    t, h, w = (int(x) for x in grid_thw)
    gh, gw = h // spatial_merge_size, w // spatial_merge_size
    n_video = t * gh * gw
    if not is_video.any():
        raise ValueError("a video grid was given but the sequence has no video token")
    start = int(np.argmax(is_video))
    end = start + n_video + num_audio
    block_video, block_audio = is_video[start:end], is_audio[start:end]
    if int(block_video.sum()) != n_video or int(block_audio.sum()) != num_audio or end > length:
        raise ValueError(
            f"video block holds {int(block_video.sum())} video / {int(block_audio.sum())} audio tokens, "
            f"expected {n_video} / {num_audio}"
        )
    if is_video[end:].any() or is_audio[end:].any() or is_audio[:start].any():
        raise ValueError("video or audio tokens outside the one video block")

    positions = np.zeros((3, length), dtype=np.int64)
    positions[:, :start] = np.arange(start)
    base = start
    grid_t = np.repeat(np.arange(t), gh * gw)
    video_pos = np.stack([
        half_second_index(grid_t, seconds_per_grid),
        np.tile(np.repeat(np.arange(gh), gw), t),
        np.tile(np.arange(gw), t * gh),
    ]) + base
    audio_time = np.arange(num_audio)
    audio_pos = np.stack([audio_time, np.zeros_like(audio_time), audio_time]) + base
    block = np.zeros((3, end - start), dtype=np.int64)
    block[:, block_video] = video_pos
    block[:, block_audio] = audio_pos
    positions[:, start:end] = block
    after = (block[0].max() if num_audio > 0 else block.max()) + 1
    positions[:, end:] = after + np.arange(length - end)
    return positions


def _audio_only_positions(is_audio: np.ndarray, num_audio: int) -> np.ndarray:
    """[3, L] for text around at most one run of ``num_audio`` audio tokens (no video grid).

    The release's audio-only branch (``get_rope_index``, ``audio_lengths`` without a video
    grid): text counts 0, 1, ... on all three axes; audio token k -> ``(b + k, b + k, b)``;
    the text after continues from the block's largest time position + 1.
    """
    length = is_audio.shape[0]
    positions = np.broadcast_to(np.arange(length), (3, length)).copy()
    count = int(is_audio.sum())
    if count != num_audio:
        raise ValueError(f"{count} audio tokens in the sequence, expected {num_audio}")
    if count == 0:
        return positions
    start = int(np.argmax(is_audio))
    end = start + count
    if not is_audio[start:end].all():
        raise ValueError("audio tokens without a video grid must form one contiguous block")
    k = np.arange(count)
    positions[:, start:end] = np.stack([k, k, np.zeros_like(k)]) + start
    positions[:, end:] = end + np.arange(length - end)  # last time position (start + count - 1) + 1
    return positions


TRAINING = "training"
RELEASE_INFERENCE = "release-inference"
POSITION_MODES = (TRAINING, RELEASE_INFERENCE)


def release_inference_positions(
    input_ids: Sequence[int],
    *,
    video_token_id: int,
    grid_thw: tuple[int, int, int] | None,
    spatial_merge_size: int,
) -> np.ndarray:
    """Positions [3, L] the 2+ release's ``generate()`` gives one unpadded prompt (module docstring)."""
    ids = np.asarray(input_ids, dtype=np.int64)
    length = ids.shape[0]
    positions = np.broadcast_to(np.arange(length), (3, length)).copy()
    if grid_thw is None:  # audio-only or text: the release falls through to 1D positions
        return positions
    is_video = ids == video_token_id
    if not is_video.any():
        raise ValueError("a video grid was given but the sequence has no video token")
    t, h, w = (int(x) for x in grid_thw)
    gh, gw = h // spatial_merge_size, w // spatial_merge_size
    start = int(np.argmax(is_video))
    end = start + t * gh * gw
    if end > length:
        raise ValueError(f"the video grid needs {t * gh * gw} tokens from position {start}, the sequence has {length}")
    grid = np.stack([
        np.repeat(np.arange(t), gh * gw) * 2,  # 1.0 s per grid, 2 positions per second
        np.tile(np.repeat(np.arange(gh), gw), t),
        np.tile(np.arange(gw), t * gh),
    ]) + start
    positions[:, start:end] = grid
    positions[:, end:] = grid.max() + 1 + np.arange(length - end)
    return positions
