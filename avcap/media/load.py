"""``load_clip``: a video file (and optionally a separate audio file) -> :class:`Clip`;
``load_audio_clip``: an audio file (or a video's soundtrack) -> an audio-only :class:`Clip`;
``load_image_clip``: a still image -> a one-frame :class:`Clip`; ``load_media``: whichever a row names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from avcap.errors import (
    ConfigError,
    CorruptMediaError,
    EmptyMediaError,
    MissingMediaError,
    NotAVideoError,
    UnsupportedCodecError,
)
from avcap.media.audio import decode_mono_16k
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, Clip
from avcap.media.decode import decode_frames
from avcap.media.info import check_not_truncated, ffmpeg_cause, open_media, read_info
from avcap.media.policies import SamplingPolicy, get_policy
from avcap.media.track import TrackWriter


def load_clip(
    path: str | Path,
    policy: str | SamplingPolicy = "salmonn2",
    audio_path: str | Path | None = None,
    frame_times: list[float] | None = None,
    segment: tuple[float, float] | None = None,
    with_audio: bool = True,
) -> Clip:
    """Decode the frames ``policy`` picks and the audio as 16 kHz mono float32.

    ``audio_path`` replaces the video's own soundtrack. A video without audio gets zeros over
    its duration and ``has_audio=False`` (VideoLLaMA 2 feeds a zero waveform the same way).
    ``frame_times`` (seconds, any order, repeats allowed) overrides the policy's times but keeps
    its frame size, e.g. for a Tarsier2 corruption from :mod:`avcap.media.corrupt`.
    The audio is placed on the video's timeline and cut or zero-padded to exactly
    round(duration_s * 16000) samples, so audio and frame times share one clock.

    ``segment`` (start, end) in seconds makes the clip that stretch of the video (a dataset row's
    ``timestamps``, as the first release reads them): the policy plans over the segment, frame
    times and audio count from its start, ``duration_s`` is its length. ``with_audio=False`` (a
    row's ``use_audio: false``) gives a visual-only clip: an empty waveform, ``has_audio=False``,
    which the audio-visual models read as "no audio tokens" (not as silence).
    """
    pol = get_policy(policy)
    if frame_times is not None:
        pol = pol.at_times(list(frame_times))
    with open_media(path) as container:
        info, stream = read_info(container, path)
        h, w = info.upright_size
        start_s, duration_s, num_source = 0.0, info.duration_s, info.num_frames
        if segment is not None:
            start_s, duration_s, num_source = _segment(path, segment, info)
        try:
            plan = pol.plan(duration_s, info.fps, h, w, num_source)
        except ValueError as err:  # e.g. an explicit frame time past the end
            raise ConfigError(f"{path}: {err}") from err
        if start_s:
            plan = dataclasses.replace(plan, frame_times=[start_s + t for t in plan.frame_times])
        frames, times, stats = decode_frames(container, stream, info, plan, path)
    times = np.asarray(times, dtype=np.float64) - start_s

    length = int(round(info.duration_s * AUDIO_SAMPLE_RATE_HZ))
    meta = info.to_meta()
    meta["target_times"] = [float(t) - start_s for t in plan.frame_times]
    meta["decode"] = stats
    # What the policy left out, for the caption rows' modality audit (avcap.media.audit).
    meta["sampling"] = {"frames_uncapped": pol.uncapped_frame_count(duration_s, info.fps, num_source),
                        "source_pixels": int(h * w), "frame_pixels": int(plan.content_height * plan.content_width)}
    if segment is not None:
        meta["segment"] = [start_s, start_s + duration_s]
    if not with_audio:
        audio, source_s, has_audio = np.zeros(0, dtype=np.float32), 0.0, False
        meta["audio"] = "off"
    elif audio_path is not None:
        audio, source_s = _load_audio(audio_path, length, video_start_s=None)
        meta["audio_path"] = str(audio_path)
        has_audio = True
    elif info.has_audio:
        audio, source_s = _load_audio(path, length, video_start_s=info.start_s)
        has_audio = source_s > 0
    else:
        audio, source_s, has_audio = np.zeros(length, dtype=np.float32), 0.0, False
    if with_audio and segment is not None:
        first = int(round(start_s * AUDIO_SAMPLE_RATE_HZ))
        audio = audio[first:first + int(round(duration_s * AUDIO_SAMPLE_RATE_HZ))]
    meta["audio_source_s"] = source_s
    return Clip(
        path=str(path),
        frames=frames,
        frame_times=times,
        audio=audio,
        duration_s=duration_s,
        has_audio=has_audio,
        sample_rate_hz=AUDIO_SAMPLE_RATE_HZ,
        policy=pol.name,
        meta=meta,
    )


def _segment(path, segment: tuple[float, float], info) -> tuple[float, float, int | None]:
    """(start, duration, source frames) of a (start, end) stretch; the end is clipped to the video."""
    start, end = (float(x) for x in segment)
    if not (np.isfinite(start) and np.isfinite(end) and 0 <= start < end):
        raise ConfigError(f"{path}: segment [{start}, {end}] must have 0 <= start < end")
    end = min(end, info.duration_s)
    if end - start <= 0:
        raise ConfigError(f"{path}: segment starts at {start:.2f} s, after the video ends ({info.duration_s:.2f} s)")
    # Source frames inside it, counted as the first release does: round(start * fps) .. round(end * fps).
    first, last = round(start * info.fps), round(end * info.fps)
    if info.num_frames:
        last = min(last, info.num_frames - 1)
    return start, end - start, max(1, last - first + 1)


def load_image_clip(path: str | Path) -> Clip:
    """A still image as a one-frame clip with no audio (``policy`` "image"): a dataset row's ``image``.

    EXIF orientation is applied; the model's own image processor sizes it. ``duration_s`` is 0.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    file = Path(path)
    if not file.is_file():
        raise MissingMediaError(path, "no such file")
    try:
        with Image.open(file) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
            frame = np.array(rgb, dtype=np.uint8)  # a writable copy (torch warns on read-only arrays)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise NotAVideoError(path, f"not a readable image ({type(err).__name__}: {err})") from None
    if frame.size == 0:
        raise EmptyMediaError(path, "image has no pixels")
    return Clip(path=str(path), frames=frame[None], frame_times=np.zeros(1), audio=np.zeros(0, dtype=np.float32),
                duration_s=0.0, has_audio=False, sample_rate_hz=AUDIO_SAMPLE_RATE_HZ, policy="image",
                meta={"image": True, "width": int(frame.shape[1]), "height": int(frame.shape[0])})


def load_media(video: str | Path | None = None, audio: str | Path | None = None, image: str | Path | None = None,
               policy: str | SamplingPolicy = "salmonn2", use_audio: bool = True,
               segment: tuple[float, float] | None = None) -> Clip:
    """The clip a dataset row describes: its video (+ separate audio), its audio alone, or its image.

    ``use_audio=False`` drops the sound (visual only); ``segment`` cuts a stretch of the video or
    audio. This is the one place captioning and training turn row fields into a clip.
    """
    if image is not None and video is None:
        if audio is not None:
            raise ConfigError(f"{image}: an image row with an audio track is not supported")
        return load_image_clip(image)
    if video is None:
        if audio is None:
            raise ConfigError("a row needs a video, an audio or an image")
        clip = load_audio_clip(audio)
        if segment is not None:
            start, end = (float(x) for x in segment)
            if not 0 <= start < end:
                raise ConfigError(f"{audio}: segment [{start}, {end}] must have 0 <= start < end")
            first = int(round(start * AUDIO_SAMPLE_RATE_HZ))
            wave = clip.audio[first:int(round(end * AUDIO_SAMPLE_RATE_HZ))]
            if wave.size == 0:
                raise ConfigError(f"{audio}: segment starts after the audio ends ({clip.duration_s:.2f} s)")
            clip = dataclasses.replace(clip, audio=wave, duration_s=wave.size / AUDIO_SAMPLE_RATE_HZ)
        return clip
    return load_clip(video, policy=policy, audio_path=audio, segment=segment, with_audio=use_audio)


def load_audio_clip(path: str | Path) -> Clip:
    """An audio-only clip: no frames, the first audio stream of ``path`` as 16 kHz mono float32.

    For the audio rows of audio alignment (video-SALMONN 2 §3.2: ASR on LibriSpeech, audio
    captions on AudioCaps), whose ``audio`` has no ``video``. Reads audio files (wav, flac, mp3,
    m4a, ogg, ...) and the soundtrack of a video file, resampled and down-mixed by the same
    ``decode_mono_16k`` as :func:`load_clip`. The clip's clock starts at the track's first decoded
    sample and ``duration_s`` is the decoded length. ``frames`` is an empty uint8 array of shape
    [0, 0, 0, 3] and ``frame_times`` an empty float64 array, so ``num_frames`` is 0 (the captioners
    read that as "audio only"); ``policy`` is ``"audio"``.
    """
    with open_media(path, expected="an audio file") as container:
        fmt = container.format.name
        if fmt.endswith("_pipe") or fmt == "image2":
            raise NotAVideoError(path, f"still image ({fmt.removesuffix('_pipe')}), not an audio file")
        check_not_truncated(container, path)
        if not container.streams.audio:
            what = " (video only)" if container.streams.video else ""
            raise EmptyMediaError(path, f"no audio stream{what}")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        header_s = _header_seconds(container, stream)
        writer, first_s = _decode_track(container, stream, path, lambda first: TrackWriter(None))
        samples = writer.finish()
        meta = {
            "container": fmt,
            "audio_codec": ctx.name if ctx is not None else None,
            "audio_rate_hz": (ctx.sample_rate or None) if ctx is not None else None,
            "audio_channels": (ctx.channels or None) if ctx is not None else None,
            "audio_layout": (ctx.layout.name if ctx.layout else None) if ctx is not None else None,
            "header_duration_s": header_s,
            "audio_start_s": first_s if first_s is not None else 0.0,
            "has_video_stream": bool(container.streams.video),
        }
    if samples.shape[0] == 0:
        raise EmptyMediaError(path, "audio stream holds no samples (zero duration)")
    duration_s = samples.shape[0] / AUDIO_SAMPLE_RATE_HZ
    meta["audio_source_s"] = duration_s
    return Clip(
        path=str(path),
        frames=np.zeros((0, 0, 0, 3), dtype=np.uint8),
        frame_times=np.zeros(0, dtype=np.float64),
        audio=samples,
        duration_s=duration_s,
        has_audio=True,
        sample_rate_hz=AUDIO_SAMPLE_RATE_HZ,
        policy="audio",
        meta=meta,
    )


def _header_seconds(container, stream) -> float:
    """The track's length from the headers (0 when they do not say); reported in the clip's meta."""
    import av

    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _decode_track(container, stream, path, make_writer) -> tuple[TrackWriter, float | None]:
    """``decode_mono_16k`` with PyAV's failures mapped to one-line MediaErrors."""
    import av

    if stream.codec_context is None:
        raise UnsupportedCodecError(path, "unsupported or unknown audio codec (no decoder in this FFmpeg build)")
    try:
        return decode_mono_16k(container, stream, make_writer)
    except av.error.DecoderNotFoundError as err:
        raise UnsupportedCodecError(path, f"unsupported audio codec {stream.codec_context.name!r}") from err
    except (av.error.FFmpegError, ValueError) as err:  # ValueError: format change mid-stream
        raise CorruptMediaError(path, f"corrupt audio stream ({ffmpeg_cause(err)})") from err


def _load_audio(path: str | Path, length: int, video_start_s: float | None) -> tuple[np.ndarray, float]:
    """The first audio stream of ``path`` at 16 kHz mono, fitted to ``length`` samples.

    With ``video_start_s`` the track keeps its offset from the video's first frame; a separate
    audio file (``None``) starts at its own first sample. Returns the samples and the source
    track's decoded length in seconds. Samples are placed as they are decoded (long tracks
    straight into a temporary file), never held whole and then copied.
    """
    with open_media(path) as container:
        if not container.streams.audio:
            raise EmptyMediaError(path, "no audio stream")
        stream = container.streams.audio[0]

        def place(first_s: float | None) -> TrackWriter:
            first_s = 0.0 if first_s is None else first_s
            if video_start_s is None:
                start = float(stream.start_time * stream.time_base) if stream.start_time is not None else first_s
                offset_s = first_s - start
            else:
                offset_s = first_s - video_start_s
            return TrackWriter(length, int(round(offset_s * AUDIO_SAMPLE_RATE_HZ)))

        writer, _ = _decode_track(container, stream, path, place)
    return writer.finish(), writer.total / AUDIO_SAMPLE_RATE_HZ
