"""Open a media file with PyAV, read its facts (MediaInfo), and ``probe`` what a policy would sample.

Every failure becomes a :class:`~avcap.errors.MediaError` subclass whose message is
``"<path>: <cause>"``, one line, so a batch can record it next to the item and go on.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avcap.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MissingMediaError,
    NotAVideoError,
    UnsupportedCodecError,
)
from avcap.media.audio import num_whisper_chunks
from avcap.media.policies import SamplingPolicy, get_policy

# Leading bytes of containers FFmpeg reads; a file that starts like one but fails to open is
# damaged, not "some other kind of file".
_MAGIC = {
    b"\x1a\x45\xdf\xa3": "Matroska/WebM",
    b"RIFF": "RIFF (AVI/WAV)",
    b"OggS": "Ogg",
    b"FLV": "FLV",
    b"ID3": "MP3",
    b"fLaC": "FLAC",
    b"\x00\x00\x01\xba": "MPEG-PS",
    b"\x30\x26\xb2\x75": "ASF/WMV",
}
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def ffmpeg_cause(err: Exception) -> str:
    """FFmpeg's reason without the path PyAV appends (the MediaError names the file already)."""
    text = getattr(err, "strerror", None) or str(err)
    return text.splitlines()[0] if text else type(err).__name__


def _sniff(path: Path) -> str | None:
    """Name the kind of file from its first bytes: a container name, "text", or None if unknown."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[4:8] in _MP4_BOXES:
        return "MP4/MOV"
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    if head and head[0] == 0x47 and len(head) > 188 and head[188] == 0x47:
        return "MPEG-TS"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError:
            pass
    return None


@contextlib.contextmanager
def open_media(path: str | Path, expected: str = "a video"):
    """``av.open`` for reading, with every way it can fail mapped to a one-line MediaError.

    ``expected`` names what the caller wanted ("a video", "an audio file") in the message for a text file.
    """
    import av

    p = Path(path)
    if not p.exists():
        raise MissingMediaError(p, "file not found")
    if p.is_dir():
        raise NotAVideoError(p, "is a directory, not a media file")
    try:
        size = p.stat().st_size
    except OSError as err:
        raise MediaError(p, f"cannot read: {err.strerror}") from err
    if size == 0:
        raise EmptyMediaError(p, "file is empty (0 bytes)")
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except PermissionError as err:
        raise MediaError(p, "cannot read: permission denied") from err
    except (av.error.FFmpegError, OSError, ValueError) as err:
        kind = _sniff(p)
        if kind == "text":
            raise NotAVideoError(p, f"text file, not {expected}") from err
        if kind is not None:
            raise CorruptMediaError(p, f"damaged or truncated {kind} file ({ffmpeg_cause(err)})") from err
        raise CorruptMediaError(p, f"not a readable media file: unknown or corrupt data ({ffmpeg_cause(err)})") from err
    try:
        yield container
    finally:
        container.close()


def pick_video_stream(container, path):
    """The first real video stream (cover art in audio files does not count), or a MediaError."""
    import av

    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt == "image2":
        raise NotAVideoError(path, f"still image ({fmt.removesuffix('_pipe')}), not a video")
    videos = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if videos:
        return videos[0]
    audios = list(container.streams.audio)
    if audios:
        codec = audios[0].codec_context.name if audios[0].codec_context else "unknown codec"
        raise NotAVideoError(path, f"no video stream (audio only: {codec})")
    if len(container.streams) == 0:
        raise EmptyMediaError(path, "holds no audio or video streams (zero duration)")
    raise NotAVideoError(path, "no video stream")


@dataclass
class MediaInfo:
    """Facts about a file's video (and audio) stream, read from headers and the first frame."""

    path: str
    container: str
    codec: str
    width: int  # as stored (coded), before rotation
    height: int
    rotation: int  # display-matrix rotation, counter-clockwise degrees (VideoFrame.rotation)
    fps: float  # average frame rate; VFR videos are sampled by timestamps, not by this
    num_frames: int | None  # from the container index; None when it does not say
    duration_s: float  # of the video stream
    start_s: float  # timestamp of the first video frame; sample times are relative to it
    has_audio: bool
    audio_codec: str | None = None
    audio_rate_hz: int | None = None
    audio_channels: int | None = None
    audio_layout: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def upright_size(self) -> tuple[int, int]:
        """(height, width) as displayed, after the rotation."""
        return (self.width, self.height) if round(self.rotation / 90) % 2 else (self.height, self.width)

    def to_meta(self) -> dict:
        meta = asdict(self)
        meta.pop("path")
        meta.update(meta.pop("extra"))
        return meta


def _video_duration(container, stream, num_frames: int | None, fps: float) -> float:
    import av

    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    if num_frames:
        return num_frames / fps
    return 0.0


def first_frame(container, stream, path):
    """Decode the first video frame (checks the codec works and gives the rotation)."""
    import av

    if stream.codec_context is None:
        raise UnsupportedCodecError(path, "unsupported or unknown video codec (no decoder in this FFmpeg build)")
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.DecoderNotFoundError as err:
        raise UnsupportedCodecError(path, f"unsupported video codec {stream.codec_context.name!r}") from err
    except av.error.FFmpegError as err:
        raise CorruptMediaError(path, f"corrupt video stream ({ffmpeg_cause(err)})") from err
    if stream.frames:
        raise CorruptMediaError(path, f"video stream lists {stream.frames} frames but none decodes (truncated?)")
    raise EmptyMediaError(path, "video stream holds no frames (zero duration)")


def check_not_truncated(container, path) -> None:
    """Fail fast if the container's index points past the end of the file (a cut-off download).

    Only the last index entry of each stream is read, so this costs nothing on long files.
    """
    size = Path(path).stat().st_size
    for stream in container.streams:
        try:
            entries = stream.index_entries
            last = entries[len(entries) - 1] if len(entries) else None
        except (AttributeError, TypeError, IndexError):
            continue
        if last is not None and last.pos >= 0 and last.pos + last.size > size:
            raise CorruptMediaError(
                path, f"truncated: the index needs {last.pos + last.size} bytes but the file has {size}"
            )


def read_info(container, path) -> tuple[MediaInfo, object]:
    """MediaInfo for an open container, plus its chosen video stream."""
    stream = pick_video_stream(container, path)
    check_not_truncated(container, path)
    frame = first_frame(container, stream, path)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    num_frames = stream.frames or None
    start_s = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    fps = float(rate) if rate else 0.0
    duration = _video_duration(container, stream, num_frames, fps or 25.0)
    if not fps:
        fps = num_frames / duration if num_frames and duration > 0 else 25.0  # FFmpeg's own fallback rate
    if duration <= 0:
        raise EmptyMediaError(path, "video has zero duration")
    audio = container.streams.audio[0] if container.streams.audio else None
    actx = audio.codec_context if audio is not None else None
    info = MediaInfo(
        path=str(path),
        container=container.format.name,
        codec=stream.codec_context.name,
        width=stream.codec_context.width or frame.width,
        height=stream.codec_context.height or frame.height,
        rotation=int(frame.rotation or 0),
        fps=fps,
        num_frames=num_frames,
        duration_s=duration,
        start_s=start_s,
        has_audio=audio is not None,
        audio_codec=actx.name if actx is not None else None,
        audio_rate_hz=(actx.sample_rate or None) if actx is not None else None,
        audio_channels=(actx.channels or None) if actx is not None else None,
        audio_layout=(actx.layout.name if actx.layout else None) if actx is not None else None,
        extra={"pix_fmt": stream.codec_context.pix_fmt, "time_base": str(stream.time_base)},
    )
    return info, stream


@dataclass
class ProbeReport:
    """What ``load_clip`` would produce for a file under a policy, computed without decoding it."""

    path: str
    policy: str
    duration_s: float
    num_frames: int
    frame_times: list[float]
    height: int  # of each output frame
    width: int
    has_audio: bool
    audio_chunks: int  # 30 s Whisper windows of the (possibly zero-filled) 16 kHz track
    meta: dict

    def to_dict(self) -> dict:
        return asdict(self)


def probe(path: str | Path, policy: str | SamplingPolicy = "salmonn2", **overrides) -> ProbeReport:
    """Read headers and the first frame, apply ``policy``, and report what would be sampled."""
    pol = get_policy(policy, **overrides)
    with open_media(path) as container:
        info, _ = read_info(container, path)
    h, w = info.upright_size
    plan = pol.plan(info.duration_s, info.fps, h, w, info.num_frames)
    return ProbeReport(
        path=str(path),
        policy=pol.describe(),
        duration_s=info.duration_s,
        num_frames=len(plan.frame_times),
        frame_times=[round(t, 6) for t in plan.frame_times],
        height=plan.height,
        width=plan.width,
        has_audio=info.has_audio,
        audio_chunks=num_whisper_chunks(info.duration_s),
        meta=info.to_meta(),
    )
