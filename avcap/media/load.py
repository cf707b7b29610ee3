"""``load_clip``: a video file (and optionally a separate audio file) -> :class:`Clip`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avcap.errors import ConfigError, CorruptMediaError, EmptyMediaError, UnsupportedCodecError
from avcap.media.audio import decode_mono_16k, fit_to_length
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, Clip
from avcap.media.decode import decode_frames
from avcap.media.info import ffmpeg_cause, open_media, read_info
from avcap.media.policies import SamplingPolicy, get_policy


def load_clip(
    path: str | Path,
    policy: str | SamplingPolicy = "salmonn2",
    audio_path: str | Path | None = None,
    frame_times: list[float] | None = None,
) -> Clip:
    """Decode the frames ``policy`` picks and the audio as 16 kHz mono float32.

    ``audio_path`` replaces the video's own soundtrack. A video without audio gets zeros over
    its duration and ``has_audio=False`` (VideoLLaMA 2 feeds a zero waveform the same way).
    ``frame_times`` (seconds, any order, repeats allowed) overrides the policy's times but keeps
    its frame size, e.g. for a Tarsier2 corruption from :mod:`avcap.media.corrupt`.
    The audio is placed on the video's timeline and cut or zero-padded to exactly
    round(duration_s * 16000) samples, so audio and frame times share one clock.
    """
    pol = get_policy(policy)
    if frame_times is not None:
        pol = pol.at_times(list(frame_times))
    with open_media(path) as container:
        info, stream = read_info(container, path)
        h, w = info.upright_size
        try:
            plan = pol.plan(info.duration_s, info.fps, h, w, info.num_frames)
        except ValueError as err:  # e.g. an explicit frame time past the end
            raise ConfigError(f"{path}: {err}") from err
        frames, times, stats = decode_frames(container, stream, info, plan, path)

    length = int(round(info.duration_s * AUDIO_SAMPLE_RATE_HZ))
    meta = info.to_meta()
    meta["target_times"] = [float(t) for t in plan.frame_times]
    meta["decode"] = stats
    if audio_path is not None:
        audio, source_s = _load_audio(audio_path, length, video_start_s=None)
        meta["audio_path"] = str(audio_path)
        has_audio = True
    elif info.has_audio:
        audio, source_s = _load_audio(path, length, video_start_s=info.start_s)
        has_audio = source_s > 0
    else:
        audio, source_s, has_audio = np.zeros(length, dtype=np.float32), 0.0, False
    meta["audio_source_s"] = source_s
    return Clip(
        path=str(path),
        frames=frames,
        frame_times=times,
        audio=audio,
        duration_s=info.duration_s,
        has_audio=has_audio,
        sample_rate_hz=AUDIO_SAMPLE_RATE_HZ,
        policy=pol.name,
        meta=meta,
    )


def _load_audio(path: str | Path, length: int, video_start_s: float | None) -> tuple[np.ndarray, float]:
    """The first audio stream of ``path`` at 16 kHz mono, fitted to ``length`` samples.

    With ``video_start_s`` the track keeps its offset from the video's first frame; a separate
    audio file (``None``) starts at its own first sample. Returns the samples and the source
    track's decoded length in seconds.
    """
    import av

    with open_media(path) as container:
        if not container.streams.audio:
            raise EmptyMediaError(path, "no audio stream")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            raise UnsupportedCodecError(path, "unsupported or unknown audio codec (no decoder in this FFmpeg build)")
        try:
            samples, first_s = decode_mono_16k(container, stream, length / AUDIO_SAMPLE_RATE_HZ)
        except av.error.DecoderNotFoundError as err:
            raise UnsupportedCodecError(path, f"unsupported audio codec {stream.codec_context.name!r}") from err
        except (av.error.FFmpegError, ValueError) as err:  # ValueError: format change mid-stream
            raise CorruptMediaError(path, f"corrupt audio stream ({ffmpeg_cause(err)})") from err
    if first_s is None:
        first_s = 0.0
    if video_start_s is None:
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else first_s
        offset_s = first_s - start
    else:
        offset_s = first_s - video_start_s
    offset = int(round(offset_s * AUDIO_SAMPLE_RATE_HZ))
    return fit_to_length(samples, offset, length), len(samples) / AUDIO_SAMPLE_RATE_HZ
