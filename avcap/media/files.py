"""Which files count as videos when a command is given a folder."""

from __future__ import annotations

from pathlib import Path

VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".ts",
                              ".wmv", ".3gp"})


def find_videos(folder: str | Path) -> list[Path]:
    """Video files under ``folder`` (recursively, by extension), in sorted order."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
