"""Generated media for the media tests: small videos with known content, and broken files.

Every video comes from ``avcap.synth.sample``: the top bar of frame i has brightness
(i * 37) % 256, so a test can tell which frame was decoded.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from avcap.synth.sample import SampleVideoSpec, _frame_pts, write_sample_video


def bar_level(frame: np.ndarray, top: int = 0, bar_rows: int = 1) -> float:
    """Mean brightness of the index bar (rows ``top`` .. ``top + bar_rows``) of an RGB frame."""
    return float(frame[top : top + bar_rows, :, :].mean())


def decoded_index(frame: np.ndarray, expected: int, top: int = 0, bar_rows: int = 1, radius: int = 3) -> int:
    """Which index near ``expected`` the frame's bar encodes (neighbours differ by >= 34 levels)."""
    level = bar_level(frame, top, bar_rows)
    candidates = [i for i in range(expected - radius, expected + radius + 1) if i >= 0]
    return min(candidates, key=lambda i: abs(level - (i * 37) % 256))


def frame_at(times: list[float], t: float) -> int:
    """Index of the frame on screen at ``t`` given all frame times (the last one <= t)."""
    return max(0, int(np.searchsorted(np.asarray(times), t + 1e-6, side="right")) - 1)


def source_times(spec: SampleVideoSpec) -> list[float]:
    tb = Fraction(1, 90_000)
    return [float(p * tb) for p in _frame_pts(spec, tb)]


@pytest.fixture(scope="session")
def bars() -> SimpleNamespace:
    """Helpers to read the frame index back from decoded frames."""
    return SimpleNamespace(level=bar_level, index=decoded_index, frame_at=frame_at, source_times=source_times)


class Media:
    """Lazily written files in one session folder, each with the spec that made it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.specs: dict[str, SampleVideoSpec] = {}

    def video(self, name: str, **spec) -> Path:
        path = self.folder / f"{name}.mp4"
        if name not in self.specs:
            self.specs[name] = SampleVideoSpec(**spec)
            write_sample_video(path, self.specs[name])
        return path


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def av_video(media) -> Path:
    """4 s, 64x48 at 12 fps, 16 kHz mono AAC."""
    return media.video("av", duration_s=4.0, fps=12, width=64, height=48)


@pytest.fixture(scope="session")
def silent_video(media) -> Path:
    return media.video("silent", duration_s=3.0, fps=10, width=64, height=48, audio_rate_hz=None)


@pytest.fixture(scope="session")
def stereo48k_video(media) -> Path:
    return media.video("stereo48k", duration_s=4.0, fps=10, width=64, height=48, audio_rate_hz=48_000, audio_channels=2)


@pytest.fixture(scope="session")
def mono8k_video(media) -> Path:
    return media.video("mono8k", duration_s=4.0, fps=10, width=64, height=48, audio_rate_hz=8_000)


@pytest.fixture(scope="session")
def vfr_video(media) -> Path:
    """Frame durations alternate 0.05 s and 0.15 s (mean 10 fps)."""
    return media.video("vfr", duration_s=4.0, fps=10, width=64, height=48, variable_frame_rate=True)


@pytest.fixture(scope="session")
def bframe_video(media) -> Path:
    """6 s at 30 fps, textured, x264 'veryfast' (B-frames), keyframe every 2 s."""
    return media.video("bframes", duration_s=6.0, fps=30, width=96, height=64, textured=True,
                       preset="veryfast", gop_size=60, audio_rate_hz=None)


@pytest.fixture(scope="session")
def long_silent_video(media) -> Path:
    """230 s at 2 fps, 32x32, no audio, a keyframe every 5 s: exercises the 110-frame cap and seeking."""
    return media.video("long", duration_s=230.0, fps=2, width=32, height=32, audio_rate_hz=None, gop_size=10)


@pytest.fixture(scope="session")
def rotated_video(media):
    def make(rotation: int) -> Path:
        return media.video(f"rot{rotation}", duration_s=2.0, fps=12, width=64, height=48, rotation_deg=rotation)

    return make


def _write_audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        t = np.arange(16_000) / 16_000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16_000, start, Fraction(1, 16_000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_zero_duration(path: Path) -> None:
    """An mp4 whose video track never received a frame: valid container, nothing in it."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()


@pytest.fixture(scope="session")
def bad_files(media, av_video) -> dict[str, Path]:
    """One broken input of each kind load_clip must reject with a one-line MediaError."""
    from PIL import Image

    folder = media.folder / "bad"
    folder.mkdir(exist_ok=True)
    data = av_video.read_bytes()
    faststart = media.video("faststart", duration_s=6.0, fps=12, width=64, height=48, faststart=True).read_bytes()
    files = {
        "missing": folder / "missing.mp4",
        "empty": folder / "empty.mp4",
        "text": folder / "text.mp4",
        "image": folder / "image.mp4",
        "directory": folder / "folder.mp4",
        "half_mp4": folder / "half.mp4",
        "half_faststart": folder / "half_faststart.mp4",
        "random_bytes": folder / "random.mp4",
        "audio_only": folder / "audio_only.mp4",
        "zero_duration": folder / "zero.mp4",
        "unsupported_codec": folder / "unknown_codec.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a video\n" * 20)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(files["image"], format="PNG")
    files["directory"].mkdir(exist_ok=True)
    files["half_mp4"].write_bytes(data[: len(data) // 2])
    files["half_faststart"].write_bytes(faststart[: len(faststart) // 2])
    files["random_bytes"].write_bytes(np.random.default_rng(0).bytes(20_000))
    _write_audio_only(files["audio_only"])
    _write_zero_duration(files["zero_duration"])
    # Rename the sample entry's fourcc: a real H.264 stream that no decoder claims.
    patched = bytearray(data)
    at = patched.find(b"avc1", patched.find(b"stsd"))
    patched[at : at + 4] = b"zzzz"
    files["unsupported_codec"].write_bytes(bytes(patched))
    return files
