"""One exception tree, so callers can catch avcap's own failures and report them in one line.

Every error carries the item it concerns (a file, a dataset row, a judge call) so that a
batch can record ``str(err)`` next to the item and go on.
"""

from __future__ import annotations


class AvcapError(Exception):
    """Base of every error avcap raises on purpose."""


class MediaError(AvcapError):
    """A video or audio file cannot be used: ``MediaError(path, cause)``."""

    def __init__(self, path: object, cause: str):
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class MissingMediaError(MediaError):
    """The file does not exist."""


class EmptyMediaError(MediaError):
    """The file is empty, or holds no frames / zero duration."""


class NotAVideoError(MediaError):
    """The file is not a decodable video (text, image, audio-only)."""


class CorruptMediaError(MediaError):
    """The container or stream is truncated or damaged."""


class UnsupportedCodecError(MediaError):
    """The stream's codec cannot be decoded by this FFmpeg build."""


class DataError(AvcapError):
    """A dataset file or row is malformed; the message names file and line."""


class ModelError(AvcapError):
    """A model or checkpoint cannot be loaded or run."""


class JudgeError(AvcapError):
    """A judge call failed after its retries (timeouts, HTTP errors, broken JSON)."""


class ConfigError(AvcapError):
    """A config file or flag is invalid."""


class MissingDependencyError(AvcapError):
    """An optional package a command needs is not installed."""


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise :class:`MissingDependencyError` saying which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"{purpose} needs the '{module}' package, which is not installed: "
                                     f"pip install 'avcap[{extra}]'") from None
