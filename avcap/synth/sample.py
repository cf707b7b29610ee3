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
    rotation_deg: int = 0  # written as display-matrix side data / rotate tag
    seed: int = 0

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        if self.fps <= 0:
            raise ValueError("fps must be > 0")
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (yuv420p)")


def render_frame(index: int, t: float, spec: SampleVideoSpec) -> np.ndarray:
    """One RGB frame: a square crossing left to right and a bar whose colour encodes the frame index."""
    h, w = spec.height, spec.width
    frame = np.full((h, w, 3), 32, dtype=np.uint8)
    side = max(4, min(h, w) // 4)
    progress = (t / spec.duration_s) % 1.0
    x0 = int(progress * (w - side))
    y0 = (h - side) // 2
    frame[y0 : y0 + side, x0 : x0 + side] = (230, 60, 40)
    # A top bar whose brightness encodes the index lets tests check which frame was decoded.
    frame[: max(2, h // 10), :, :] = (index * 37) % 256
    return frame


def render_audio(spec: SampleVideoSpec) -> np.ndarray:
    """float32 [channels, samples]: a tone in the first half, seeded noise bursts in the second."""
    assert spec.audio_rate_hz is not None
    n = int(round(spec.duration_s * spec.audio_rate_hz))
    t = np.arange(n) / spec.audio_rate_hz
    tone = 0.3 * np.sin(2 * np.pi * spec.tone_hz * t)
    rng = np.random.default_rng(spec.seed)
    noise = 0.2 * rng.standard_normal(n) * ((t * 4).astype(int) % 2)
    mono = np.where(t < spec.duration_s / 2, tone, noise).astype(np.float32)
    return np.stack([mono * (1.0 - 0.3 * c) for c in range(spec.audio_channels)]).astype(np.float32)


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
    with av.open(str(path), mode="w") as container:
        vstream = container.add_stream(spec.video_codec, rate=Fraction(spec.fps).limit_denominator(1000))
        vstream.width, vstream.height = spec.width, spec.height
        vstream.pix_fmt = "yuv420p"
        time_base = Fraction(1, 90_000)
        vstream.time_base = time_base
        if spec.video_codec == "libx264":
            vstream.options = {"preset": "ultrafast", "crf": "28"}
        if spec.rotation_deg:
            vstream.metadata["rotate"] = str(spec.rotation_deg)
        astream = None
        if spec.audio_rate_hz:
            astream = container.add_stream(spec.audio_codec, rate=spec.audio_rate_hz)
            astream.layout = "mono" if spec.audio_channels == 1 else "stereo"
        for i, pts in enumerate(_frame_pts(spec, time_base)):
            frame = av.VideoFrame.from_ndarray(render_frame(i, float(pts * time_base), spec), format="rgb24")
            frame.pts = pts
            frame.time_base = time_base
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            _write_audio(container, astream, render_audio(spec), spec.audio_rate_hz)
    return path


def _write_audio(container, astream, samples: np.ndarray, rate: int) -> None:
    import av

    layout = "mono" if samples.shape[0] == 1 else "stereo"
    chunk = 1024
    for start in range(0, samples.shape[1], chunk):
        block = np.ascontiguousarray(samples[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in astream.encode(frame):
            container.mux(packet)
    for packet in astream.encode():
        container.mux(packet)
