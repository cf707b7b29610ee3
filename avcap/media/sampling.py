"""Which frames a model sees, and at what size: pure functions of the video's duration and rate.

Every function here mirrors the frame sampler of an official release, rewritten over *times*
(seconds from the first video frame) so the decoder can seek by presentation timestamp and
variable-frame-rate videos map correctly. Index-based samplers (Qwen, Tarsier2, VideoLLaMA 2)
compute indices exactly as their release does and turn them into times as ``index / fps``.
"""

from __future__ import annotations

import math

import numpy as np

# Qwen2-VL / Qwen2.5-VL / Qwen2.5-Omni vision constants (qwen-vl-utils, qwen-omni-utils).
QWEN_PATCH_FACTOR = 28  # 14-pixel patches merged 2x2
QWEN_FRAME_FACTOR = 2  # temporal patch size: frames enter the ViT in pairs
QWEN_VIDEO_MIN_PIXELS = 128 * 28 * 28
QWEN_VIDEO_MAX_PIXELS = 768 * 28 * 28


def _check_duration(duration_s: float) -> None:
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number > 0, got {duration_s!r}")


def _check_rate(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")


def salmonn2_frame_times(duration_s: float, fps: float = 1.0, max_frames: int = 110) -> list[float]:
    """Frame times of video-SALMONN 2 (paper §3.1): rate ``fps``, at most ``max_frames`` frames.

    n = ceil(fps * T) frames, one per 1/fps slot, taken at the *start* of each slot, t_k = k / fps.
    The start is chosen because eq. (5) places frame i *before* the audio of its slot
    (H_i = [visual_i, audio(α_{i-1}:α_i)]), and because the official LLaVA-style loader takes
    source frames 0, step, 2*step, ...; a final partial slot still gets its frame.
    If n > max_frames the rate drops to φ' = max_frames / T and t_k = k * T / max_frames
    ("for videos longer than 110 seconds, 110 frames are uniformly sampled", §4.1). The paper
    writes φ' = ⌊m/T⌋, which is 0 for every T > m, so the floor cannot be meant literally.

    >>> salmonn2_frame_times(3.5)
    [0.0, 1.0, 2.0, 3.0]
    >>> salmonn2_frame_times(8.0, max_frames=4)
    [0.0, 2.0, 4.0, 6.0]
    """
    _check_duration(duration_s)
    _check_rate("fps", fps)
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    # The small tolerance keeps T = 3.0000000001 (a float artefact) at 3 frames, not 4.
    n = max(1, math.ceil(duration_s * fps - 1e-6))
    if n <= max_frames:
        return [k / fps for k in range(n)]
    step = duration_s / max_frames
    return [k * step for k in range(max_frames)]


def source_frame_count(duration_s: float, source_fps: float, num_source_frames: int | None = None) -> int:
    """How many frames the source holds: the container's count when known, else round(T * fps)."""
    if num_source_frames is not None and num_source_frames > 0:
        return int(num_source_frames)
    return max(1, round(duration_s * source_fps))


def qwen_num_frames(
    total_frames: int,
    source_fps: float,
    fps: float = 2.0,
    min_frames: int = 4,
    max_frames: int = 768,
    frame_factor: int = QWEN_FRAME_FACTOR,
) -> int:
    """Frame count of ``smart_nframes`` (qwen-vl-utils / qwen-omni-utils ``vision_process.py``).

    n = T * fps, clamped to [min_frames, min(max_frames, total)], then floored to a multiple of
    the temporal patch (2). The release raises when fewer than 2 frames remain; we return 2 and
    the sampler repeats the only frame, as transformers' Qwen2-VL video processor pads by
    repeating the last frame.
    """
    _check_rate("source_fps", source_fps)
    _check_rate("fps", fps)
    lo = math.ceil(min_frames / frame_factor) * frame_factor
    hi = math.floor(min(max_frames, total_frames) / frame_factor) * frame_factor
    n = total_frames / source_fps * fps
    n = min(min(max(n, lo), hi), total_frames)
    n = math.floor(n / frame_factor) * frame_factor
    return max(frame_factor, n)


def qwen_frame_times(
    duration_s: float,
    source_fps: float,
    fps: float = 2.0,
    min_frames: int = 4,
    max_frames: int = 768,
    num_source_frames: int | None = None,
) -> list[float]:
    """Qwen2.5-VL / Qwen2.5-Omni frames: ``linspace(0, total-1, n).round()`` indices, as times.

    >>> qwen_frame_times(2.0, 10.0)   # 20 source frames, 2 fps -> 4 frames (min_frames)
    [0.0, 0.6, 1.3, 1.9]
    """
    _check_duration(duration_s)
    total = source_frame_count(duration_s, source_fps, num_source_frames)
    n = qwen_num_frames(total, source_fps, fps, min_frames, max_frames)
    # np.round rounds half to even, like torch.round in the release.
    idx = np.round(np.linspace(0, total - 1, n)).astype(int)
    return [float(i) / source_fps for i in idx]


def salmonn2_plus_frame_times(
    duration_s: float,
    source_fps: float,
    interval_s: float = 0.1,
    min_frames: int = 16,
    max_frames: int = 768,
    num_source_frames: int | None = None,
) -> list[float]:
    """video-SALMONN 2+ frames (``video_torchcodec`` in the release's ``dataset.py``), as times.

    With F source frames and T = F / fps seconds: n = clamp(round(T / interval), min, max), the
    indices ``linspace(0, F - 1, n)`` truncated to integers (numpy's ``dtype=int``), duplicates
    dropped -- so a clip with fewer than n source frames gives fewer frames. Its evaluation uses
    an interval of 0.1 s and 16..768 frames (``inference.py``; README: ``--max_frames 768``).

    >>> salmonn2_plus_frame_times(2.0, 10.0, min_frames=4)   # 20 frames: n = 20, every frame
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9]
    >>> salmonn2_plus_frame_times(1.0, 8.0)   # 8 frames, 16 asked: linspace repeats, unique keeps 8
    [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]
    """
    _check_duration(duration_s)
    _check_rate("source_fps", source_fps)
    _check_rate("interval_s", interval_s)
    if not 1 <= min_frames <= max_frames:
        raise ValueError(f"need 1 <= min_frames <= max_frames, got {min_frames}, {max_frames}")
    total = source_frame_count(duration_s, source_fps, num_source_frames)
    length_s = total / source_fps  # the release's video_length: frames / average rate
    n = min(max(round(length_s / interval_s), min_frames), max_frames)  # Python round: half to even
    idx = np.unique(np.linspace(0, total - 1, n).astype(np.int64))  # dtype=int truncates toward zero
    return [float(i) / source_fps for i in idx]


def salmonn2_plus_frame_max_pixels(num_frames: int, max_pixels: float = 61250, max_frames: int = 768) -> float:
    """Per-frame pixel budget of the 2+ release (``process_video_frames``).

    ``max_pixels`` per frame, raised by ``0.95 * max_frames / n`` when fewer than ``max_frames``
    frames are sampled, so short clips keep more detail (16 frames: 2,793,000 pixels each).
    Returned as the float the release hands to ``smart_resize``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_frames < max_frames:
        return 0.95 * max_frames / num_frames * max_pixels
    return float(max_pixels)


def _checked_frame_count(duration_s: float, source_fps: float, num_frames: int, num_source_frames: int | None) -> int:
    """Validate the arguments of an N-uniform-frames sampler; return the source frame count F."""
    _check_duration(duration_s)
    _check_rate("source_fps", source_fps)
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return source_frame_count(duration_s, source_fps, num_source_frames)


def tarsier2_frame_times(
    duration_s: float, source_fps: float, num_frames: int = 16, num_source_frames: int | None = None
) -> list[float]:
    """Tarsier2 ``_sample_frame_indices_v1``: N uniform frames including the first and the last.

    index_i = round(i * (F - 1) / (N - 1)) with Python's round; N = 1 takes frame 0; a video
    with F <= N frames gives all F frames (fewer than N), as the release does.

    >>> tarsier2_frame_times(2.0, 5.0, num_frames=4)   # F = 10: indices 0, 3, 6, 9
    [0.0, 0.6, 1.2, 1.8]
    """
    total = _checked_frame_count(duration_s, source_fps, num_frames, num_source_frames)
    if num_frames == 1:
        idx = [0]
    elif total <= num_frames:
        idx = list(range(total))
    else:
        idx = [round(i * (total - 1) / (num_frames - 1)) for i in range(num_frames)]
    return [i / source_fps for i in idx]


def videollama2_frame_times(
    duration_s: float, source_fps: float, num_frames: int = 16, num_source_frames: int | None = None
) -> list[float]:
    """VideoLLaMA 2 ``frame_sample(mode='uniform')``: the middle frame of each of N equal segments.

    seg = (F - 1) / N; index_i = round(seg * (i + 1/2) + 1e-6) (the release's v1 sampler).
    Short videos repeat frames rather than return fewer than N.

    >>> videollama2_frame_times(2.1, 10.0, num_frames=4)   # F = 21: seg 5 -> 2.5, 7.5, 12.5, 17.5
    [0.3, 0.8, 1.3, 1.8]
    """
    total = _checked_frame_count(duration_s, source_fps, num_frames, num_source_frames)
    seg = (total - 1) / num_frames
    idx = np.round(np.array([seg * (i + 0.5) for i in range(num_frames)]) + 1e-6).astype(int)
    return [float(i) / source_fps for i in idx]


# ---------------------------------------------------------------------------------------------
# Frame sizes. Each returns (height, width) of the upright frame after resizing.


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 14 * 14 * 4 * 1280
) -> tuple[int, int]:
    """Mirror of transformers' ``qwen2_vl.image_processing_qwen2_vl.smart_resize``.

    Both sides become multiples of ``factor``, the area lands in [min_pixels, max_pixels], and
    the aspect ratio is kept as closely as possible. Re-stated here (and tested equal to the
    transformers function) so the media layer computes sizes without importing transformers.
    """
    if min(height, width) < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def qwen_frame_max_pixels(
    num_frames: int,
    max_pixels: int = QWEN_VIDEO_MAX_PIXELS,
    total_pixels: int = int(128_000 * 28 * 28 * 0.9),
    min_pixels: int = QWEN_VIDEO_MIN_PIXELS,
    frame_factor: int = QWEN_FRAME_FACTOR,
) -> int:
    """Per-frame pixel cap under a whole-video budget (qwen-omni-utils ``fetch_video``).

    Each pair of frames shares one temporal patch, so the cap is total * 2 / n, bounded above
    by the per-frame ``max_pixels`` and below by 1.05 * ``min_pixels`` (the release's floor).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    cap = max(min(QWEN_VIDEO_MAX_PIXELS, total_pixels / num_frames * frame_factor), int(min_pixels * 1.05))
    return int(min(max_pixels, cap))


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """Scale so the shorter side is ``short_side``, aspect kept; never upscale (it adds no detail)."""
    if min(height, width) < 1 or short_side < 1:
        raise ValueError(f"sizes must be positive, got {height}x{width} -> {short_side}")
    scale = short_side / min(height, width)
    if scale >= 1.0:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """Scale so the longer side is exactly ``long_side``, aspect kept (before padding to a square)."""
    if min(height, width) < 1 or long_side < 1:
        raise ValueError(f"sizes must be positive, got {height}x{width} -> {long_side}")
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))
