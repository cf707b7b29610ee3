"""Write short generated videos (moving shapes, tone/noise audio) with PyAV.

Tests, benchmarks and ``avcap synth sample`` use these instead of downloaded media, so
every code path runs on files whose content is known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass
class SampleVideoSpec:
    """What to write. ``audio_rate_hz=None`` writes a video with no audio stream."""

    duration_s: float = 4.0
    fps: float = 12.0
    width: int = 160
    height: int = 120
    audio_rate_hz: int | None = 16_000
    audio_channels: int = 1
    tone_hz: float = 440.0
    video_codec: str = "libx264"
    audio_codec: str = "aac"
    variable_frame_rate: bool = False  # alternate short/long frame durations
    # Display-matrix rotation, counter-clockwise degrees as ``VideoFrame.rotation`` reads it back
    # (a multiple of 90). Like a phone held sideways, the pixels are *stored* rotated the other way
    # and the matrix turns them upright, so a reader that honours it sees ``width`` x ``height``.
    rotation_deg: int = 0
    gop_size: int | None = None  # max frames between keyframes (x264 ``g``); None keeps the codec default
    preset: str = "ultrafast"  # x264 preset; "veryfast" and slower add B-frames, as real encodes have
    # A textured background panning across the frame, so inter frames carry real motion and
    # residuals (decoding cost closer to camera footage than a flat background's).
    textured: bool = False
    faststart: bool = False  # mp4: put the index (moov) before the data, as streaming sites do
    seed: int = 0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        if self.fps <= 0:
            raise ValueError("fps must be > 0")
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (yuv420p)")
        if self.rotation_deg % 90:
            raise ValueError("rotation_deg must be a multiple of 90")
        if self.gop_size is not None and self.gop_size < 1:
            raise ValueError("gop_size must be >= 1")


def render_frame(index: int, t: float, spec: SampleVideoSpec) -> np.ndarray:
    """One RGB frame: a square crossing left to right and a bar whose colour encodes the frame index."""
    h, w = spec.height, spec.width
    if spec.textured:
        frame = _texture(h, w, spec.seed)
        frame = np.ascontiguousarray(np.roll(frame, shift=(index * 3) % w, axis=1))
    else:
        frame = np.full((h, w, 3), 32, dtype=np.uint8)
    side = max(4, min(h, w) // 4)
    progress = (t / spec.duration_s) % 1.0
    x0 = int(progress * (w - side))
    y0 = (h - side) // 2
    frame[y0 : y0 + side, x0 : x0 + side] = (230, 60, 40)
    # A top bar whose brightness encodes the index lets tests check which frame was decoded.
    frame[: max(2, h // 10), :, :] = (index * 37) % 256
    return frame


_TEXTURES: dict[tuple[int, int, int], np.ndarray] = {}


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A seeded, smoothed noise picture (cached: every frame pans the same one)."""
    key = (h, w, seed)
    if key not in _TEXTURES:
        noise = np.random.default_rng(seed).random((h // 4 + 1, w // 4 + 1, 3))
        big = np.kron(noise, np.ones((4, 4, 1)))[:h, :w]
        _TEXTURES[key] = (40 + 150 * big).astype(np.uint8)
    return _TEXTURES[key].copy()


def render_audio(spec: SampleVideoSpec) -> np.ndarray:
    """float32 [channels, samples]: a tone in the first half, seeded noise bursts in the second."""
    return np.concatenate(list(iter_audio_blocks(spec)), axis=1)


def iter_audio_blocks(spec: SampleVideoSpec, block_samples: int = 1 << 20):
    """``render_audio(spec)`` in consecutive float32 [channels, <= block_samples] pieces.

    Bit-identical to the whole track (the same float64 times and one seeded generator drawn in
    order), so a two-hour sample is written without holding hours of float64 audio.
    """
    assert spec.audio_rate_hz is not None
    n = int(round(spec.duration_s * spec.audio_rate_hz))
    rng = np.random.default_rng(spec.seed)
    for start in range(0, max(n, 1), block_samples):
        t = np.arange(start, min(n, start + block_samples)) / spec.audio_rate_hz
        tone = 0.3 * np.sin(2 * np.pi * spec.tone_hz * t)
        noise = 0.2 * rng.standard_normal(t.shape[0]) * ((t * 4).astype(int) % 2)
        mono = np.where(t < spec.duration_s / 2, tone, noise).astype(np.float32)
        yield np.stack([mono * (1.0 - 0.3 * c) for c in range(spec.audio_channels)]).astype(np.float32)


def _frame_pts(spec: SampleVideoSpec, time_base: Fraction) -> list[int]:
    n_frames = max(1, int(round(spec.duration_s * spec.fps)))
    if not spec.variable_frame_rate:
        times = [i / spec.fps for i in range(n_frames)]
    else:
        # Alternate 0.5x and 1.5x the nominal frame duration: same mean rate, variable spacing.
        times, t = [], 0.0
        for i in range(n_frames):
            times.append(t)
            t += (0.5 if i % 2 == 0 else 1.5) / spec.fps
    return [int(round(tt / time_base)) for tt in times]


def write_sample_video(path: str | Path, spec: SampleVideoSpec | None = None) -> Path:
    """Write ``spec`` to ``path`` (container chosen by suffix, e.g. .mp4 or .mkv) and return the path."""
    import av

    spec = spec or SampleVideoSpec()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Stored pixels are the upright picture turned clockwise by rotation_deg (np.rot90 turns
    # counter-clockwise for positive k); the display matrix turns them back.
    turns = (spec.rotation_deg // 90) % 4
    coded_w, coded_h = (spec.height, spec.width) if turns % 2 else (spec.width, spec.height)
    options = {"movflags": "+faststart"} if spec.faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        vstream = container.add_stream(spec.video_codec, rate=Fraction(spec.fps).limit_denominator(1000))
        vstream.width, vstream.height = coded_w, coded_h
        vstream.pix_fmt = "yuv420p"
        time_base = Fraction(1, 90_000)
        vstream.time_base = time_base
        # The encoder must share the fine time base, or it re-times frames to 1/fps and a VFR
        # schedule comes out constant-rate.
        vstream.codec_context.time_base = time_base
        codec_options = {"preset": spec.preset, "crf": "28"} if spec.video_codec == "libx264" else {}
        if spec.gop_size is not None:
            codec_options["g"] = str(spec.gop_size)
        vstream.options = codec_options
        if turns:
            # The mp4 muxer ignores a "rotate" metadata tag since FFmpeg 6; the display matrix
            # (coded side data) is what readers and players honour.
            vstream.set_display_rotation(spec.rotation_deg)
        astream = None
        audio_blocks = iter(())
        if spec.audio_rate_hz:
            astream = container.add_stream(spec.audio_codec, rate=spec.audio_rate_hz)
            astream.layout = "mono" if spec.audio_channels == 1 else "stereo"
            audio_blocks = _audio_frames(iter_audio_blocks(spec), spec.audio_rate_hz)
        # Interleave as real files do: before each video frame, mux the audio up to its time, so
        # a reader demuxing one stream does not have to read the whole other stream first.
        pending_audio = next(audio_blocks, None)
        for i, pts in enumerate(_frame_pts(spec, time_base)):
            t = float(pts * time_base)
            while pending_audio is not None and pending_audio.time <= t:
                _mux(container, astream, pending_audio)
                pending_audio = next(audio_blocks, None)
            upright = render_frame(i, t, spec)
            stored = np.ascontiguousarray(np.rot90(upright, k=-turns)) if turns else upright
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts = pts
            frame.time_base = time_base
            _mux(container, vstream, frame)
        _mux(container, vstream, None)
        while pending_audio is not None:
            _mux(container, astream, pending_audio)
            pending_audio = next(audio_blocks, None)
        if astream is not None:
            _mux(container, astream, None)
    return path


def _mux(container, stream, frame) -> None:
    """Encode one frame (None flushes the encoder) and write its packets."""
    for packet in stream.encode(frame):
        container.mux(packet)


def _audio_frames(blocks, rate: int):
    """Yield the float32 [channels, n] ``blocks`` as 1024-sample AudioFrames with their timestamps."""
    import av

    chunk = 1024
    start = 0
    carry = None
    for block in blocks:
        if carry is not None:
            block = np.concatenate([carry, block], axis=1)
        whole = block.shape[1] - block.shape[1] % chunk
        yield from _frames_of(av, block[:, :whole], start, chunk, rate)
        start += whole
        carry = block[:, whole:]
    if carry is not None and carry.shape[1]:
        yield from _frames_of(av, carry, start, chunk, rate)


def _frames_of(av, samples: np.ndarray, offset: int, chunk: int, rate: int):
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    for start in range(0, samples.shape[1], chunk):
        block = np.ascontiguousarray(samples[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = offset + start
        frame.time_base = Fraction(1, rate)
        yield frame
