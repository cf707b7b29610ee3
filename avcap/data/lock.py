"""One writer per output: an exclusive, advisory lock held while a command writes a file or folder.

Two ``avcap caption`` processes appending to one captions file would each skip what *they*
saw done at start-up and write the same ``(id, sample)`` rows twice. The lock is a
``flock`` on a small side file (``.NAME.lock`` beside the output), not on the output itself:
the output is sometimes replaced by an atomic rename, which would orphan a lock held on the
old inode. The kernel drops a ``flock`` when its process dies, so ``kill -9`` never leaves a
stale lock behind; the side file stays (harmless, and it records the last holder's pid).
"""

from __future__ import annotations

import os
from pathlib import Path

from avcap.errors import AvcapError


class OutputBusyError(AvcapError):
    """Another process holds the output's lock."""


def lock_path(target: str | Path) -> Path:
    """Where the lock of ``target`` lives: ``.NAME.lock`` beside a file, ``.avcap.lock`` inside a folder."""
    target = Path(target)
    if target.is_dir():
        return target / ".avcap.lock"
    return target.with_name(f".{target.name}.lock")


class OutputLock:
    """``with OutputLock(path):`` — raise :class:`OutputBusyError` naming the holder's pid at once
    (never wait) when another process writes ``path``."""

    def __init__(self, target: str | Path, what: str = "output"):
        self.target = Path(target)
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        import fcntl

        path = lock_path(self.target)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputBusyError(f"{self.target}: another avcap process (pid {holder}) is writing this "
                                  f"{self.what}; wait for it to finish, or choose another output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
