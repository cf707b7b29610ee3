"""video-SALMONN 2 and 2+ audio-visual captioners (paper §3.1), loaded from the authors' checkpoints.

``detect(config)`` recognises a checkpoint's config.json, ``load(name_or_path)`` returns a
Captioner, ``build_tiny(out_dir, variant)`` writes a random-init miniature in the official layout.
"""

from __future__ import annotations

from pathlib import Path

from avcap.models.salmonn2.config import PLUS, V1, detect_variant

FAMILY = "salmonn2"


def detect(config: dict) -> bool:
    """True for a config.json of either release (fields in ``config.detect_variant``)."""
    return detect_variant(config) is not None


def load(name_or_path: str, device: str = "cpu", dtype=None):
    """A Captioner for a local folder or hub id holding an official (or avcap-written) checkpoint."""
    from avcap.models.salmonn2.captioner import load as _load

    return _load(name_or_path, device=device, dtype=dtype)


def build_tiny(out_dir: str | Path, variant: str = PLUS) -> Path:
    """Write a random-init miniature of ``variant`` ("plus" or "v1") in the official layout."""
    from avcap.models.salmonn2.tiny import build_tiny as _build

    return _build(out_dir, variant)


__all__ = ["FAMILY", "PLUS", "V1", "build_tiny", "detect", "load"]
