"""Helpers shared by the salmonn2 tests: miniature checkpoints built once per process, synthetic clips.

Imported by the test modules (pytest puts this folder on ``sys.path``); not a conftest plugin.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from avcap.media.clip import Clip

_ROOT = Path(tempfile.mkdtemp(prefix="avcap-salmonn2-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


@functools.cache
def tiny_dir(variant: str) -> Path:
    """A miniature checkpoint of ``variant`` in the official layout (do not modify: copy first)."""
    from avcap.models.salmonn2 import build_tiny

    return build_tiny(_ROOT / variant, variant)


@functools.cache
def tiny_captioner(variant: str):
    """The miniature loaded once (tests that train must not change its weights)."""
    from avcap.models.salmonn2 import load

    return load(str(tiny_dir(variant)))


def copy_checkpoint(variant: str, dest: Path) -> Path:
    shutil.copytree(tiny_dir(variant), dest)
    return dest


def make_clip(num_frames: int, duration_s: float, seed: int = 0, audio: bool = True, empty_audio: bool = False,
              size: tuple[int, int] = (48, 64)) -> Clip:
    """Random frames and (unless ``audio`` is False: silence, or ``empty_audio``: no samples) noise audio."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (num_frames, *size, 3), dtype=np.uint8)
    samples = int(round(duration_s * 16_000))
    if empty_audio:
        wave = np.zeros(0, np.float32)
    elif audio:
        wave = (0.1 * rng.standard_normal(samples)).astype(np.float32)
    else:
        wave = np.zeros(samples, np.float32)
    times = np.linspace(0.0, max(duration_s - 1.0, 0.0), num_frames)
    return Clip(path=f"synthetic-{seed}.mp4", frames=frames, frame_times=times, audio=wave, duration_s=duration_s,
                has_audio=audio and not empty_audio, policy="salmonn2")
