"""Frames and mp4 files of a script: flat shapes on a dark ground, words in a top strip, 16 kHz AAC audio.

Frames are drawn with numpy masks (a 6 s, 128 px, 12 fps video draws in milliseconds) and
written with PyAV (libx264 + AAC), the same way ``avcap.synth.sample`` writes its clips. The
mp4's ``comment`` tag holds :func:`video_tag`, so ``avcap synth dataset`` can tell whether a
video on disk was rendered from the very same script and renderer and skip it on resume.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from avcap.errors import MediaError
from avcap.synth import lexicon as lx
from avcap.synth.audio import SAMPLE_RATE_HZ, espeak_version, render_audio
from avcap.synth.world import Script

RENDER_VERSION = 1  # bump when frames or audio of the same script change
TAG_PREFIX = "avcap-synth:"

# A 5x7 bitmap font for the letters of lexicon.WORDS. Hand-drawn rather than Pillow's default
# font: no extra dependency, and pixel-identical text on every machine and library version.
_GLYPHS = {
    "A": "01110 10001 10001 11111 10001 10001 10001", "E": "11111 10000 10000 11110 10000 10000 11111",
    "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
    "I": "01110 00100 00100 00100 00100 00100 01110", "K": "10001 10010 10100 11000 10100 10010 10001",
    "L": "10000 10000 10000 10000 10000 10000 11111", "N": "10001 10001 11001 10101 10011 10001 10001",
    "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
    "R": "11110 10001 10001 11110 10100 10010 10001", "S": "01111 10000 10000 01110 00001 00001 11110",
    "T": "11111 00100 00100 00100 00100 00100 00100", "U": "10001 10001 10001 10001 10001 10001 01110",
    "W": "10001 10001 10001 10101 10101 10101 01010", "Y": "10001 10001 01010 00100 00100 00100 00100",
}


@functools.lru_cache(maxsize=64)
def text_mask(word: str, scale: int) -> np.ndarray:
    """bool [7*scale, width]: ``word`` in upper case, one blank column between letters."""
    columns = []
    for i, letter in enumerate(word.upper()):
        if letter not in _GLYPHS:
            raise ValueError(f"no glyph for {letter!r} (in {word!r})")
        glyph = np.array([[c == "1" for c in row] for row in _GLYPHS[letter].split()], dtype=bool)
        if i:
            columns.append(np.zeros((7, 1), dtype=bool))
        columns.append(glyph)
    bitmap = np.concatenate(columns, axis=1)
    return np.kron(bitmap, np.ones((scale, scale), dtype=bool)).astype(bool)


@functools.lru_cache(maxsize=64)
def shape_mask(shape: str, radius_px: float) -> np.ndarray:
    """bool [2R+1, 2R+1] with R = ceil(radius): the filled shape centred in the square."""
    r_int = int(np.ceil(radius_px))
    y, x = np.mgrid[-r_int:r_int + 1, -r_int:r_int + 1].astype(np.float64)
    r = float(radius_px)
    if shape == "circle":
        return x * x + y * y <= r * r
    if shape == "square":  # side 1.7 r: about the circle's area
        return (np.abs(x) <= 0.85 * r) & (np.abs(y) <= 0.85 * r)
    if shape == "diamond":
        return np.abs(x) + np.abs(y) <= 1.15 * r
    if shape == "triangle":  # apex up, base at 0.75 r
        return (y >= -r) & (y <= 0.75 * r) & (np.abs(x) <= (y + r) / 1.75)
    raise ValueError(f"unknown shape {shape!r}")


def _blit(frame: np.ndarray, mask: np.ndarray, top: int, left: int, rgb: tuple[int, int, int]) -> None:
    h, w = frame.shape[:2]
    mh, mw = mask.shape
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + mh, h), min(left + mw, w)
    if y0 >= y1 or x0 >= x1:
        return
    region = frame[y0:y1, x0:x1]
    region[mask[y0 - top:y1 - top, x0 - left:x1 - left]] = rgb


def render_frames(script: Script) -> np.ndarray:
    """uint8 [n_frames, size, size, 3]: frame i shows the world at time i / fps."""
    size = script.size
    frames = np.empty((script.n_frames, size, size, 3), dtype=np.uint8)
    frames[:] = np.array(lx.BACKGROUND_RGB, dtype=np.uint8)
    scale = max(1, size // 64)
    texts = [e for e in script.events if e.kind == "text"]
    for i in range(script.n_frames):
        frame = frames[i]
        for obj in script.objects:
            if not obj.visible(i):
                continue
            mask = shape_mask(obj.shape, obj.radius * size)
            x, y = obj.position(i)
            r = (mask.shape[0] - 1) // 2
            _blit(frame, mask, int(round(y * size)) - r, int(round(x * size)) - r, lx.COLOURS[obj.colour(i)])
        for event in texts:
            if event.frame <= i < int(event.args["end_frame"]):
                mask = text_mask(str(event.args["word"]), scale)
                _blit(frame, mask, int(round(0.06 * size)), (size - mask.shape[1]) // 2, lx.TEXT_RGB)
    return frames


def video_tag(script: Script) -> str:
    """Identity of the rendered file: script, renderer version and, if it speaks, the speech engine."""
    speech = (espeak_version() or "missing") if script.speech else ""
    digest = hashlib.sha256(f"{script.to_json()}|{RENDER_VERSION}|{speech}".encode()).hexdigest()[:16]
    return TAG_PREFIX + digest


def read_video_tag(path: str | Path) -> str | None:
    """The tag of an existing video; None when absent, unreadable or not ours."""
    import av

    try:
        with av.open(str(path)) as container:
            tag = container.metadata.get("comment")
    except (av.error.FFmpegError, OSError):
        return None
    return tag if isinstance(tag, str) and tag.startswith(TAG_PREFIX) else None


def write_video(script: Script, path: str | Path, audio: np.ndarray | None = None) -> Path:
    """Render ``script`` to an mp4 at ``path`` (atomically: a killed run leaves no half file)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render_frames(script)
    samples = render_audio(script) if audio is None else audio
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".mp4")
    os.close(fd)
    try:
        with av.open(tmp, mode="w", format="mp4") as container:
            container.metadata["comment"] = video_tag(script)
            vstream = container.add_stream("libx264", rate=script.fps)
            vstream.width = vstream.height = script.size
            vstream.pix_fmt = "yuv420p"
            frame_base = Fraction(1, script.fps)  # the muxer rewrites vstream.time_base later
            vstream.time_base = frame_base
            # One thread: output is then bit-identical run to run; workers parallelise across videos.
            vstream.options = {"preset": "ultrafast", "crf": "20", "threads": "1"}
            astream = container.add_stream("aac", rate=SAMPLE_RATE_HZ)
            astream.layout = "mono"
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                frame.time_base = frame_base
                container.mux(vstream.encode(frame))
            container.mux(vstream.encode())
            _encode_audio(container, astream, samples)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a dataset is meant to be shared
        os.replace(tmp, path)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaError(path, f"cannot write video: {err}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _encode_audio(container, astream, samples: np.ndarray) -> None:
    import av

    chunk = 1024
    for start in range(0, len(samples), chunk):
        block = np.ascontiguousarray(samples[None, start:start + chunk], dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE_HZ
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE_HZ)
        container.mux(astream.encode(frame))
    container.mux(astream.encode())
