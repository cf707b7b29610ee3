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


# Locks this process holds: lock file -> [descriptor, depth]. A command takes its output's lock
# before loading a model (a second writer then fails in a second, not after a minute of loading)
# and the library function it calls takes it again; a second flock from the same process on a
# new descriptor would conflict with the first, so nested entries share one.
_HELD: dict[Path, list[int]] = {}


class OutputLock:
    """``with OutputLock(path):`` — raise :class:`OutputBusyError` naming the holder's pid at once
    (never wait) when another process writes ``path``. Re-entrant within a process."""

    def __init__(self, target: str | Path, what: str = "output"):
        self.target = Path(target)
        self.what = what
        self._path: Path | None = None

    def __enter__(self) -> OutputLock:
        import fcntl

        path = lock_path(self.target).resolve()
        if path in _HELD:
            _HELD[path][1] += 1
            self._path = path
            return self
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
        _HELD[path] = [fd, 1]
        self._path = path
        return self

    def __exit__(self, *exc: object) -> None:
        path, self._path = self._path, None
        held = _HELD.get(path) if path is not None else None
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[path]
            os.close(held[0])  # closing the descriptor releases the flock
