"""JSONL reading and append-only writing that survive a killed run.

A run appends one line per finished item and flushes it to disk before moving on, so
``kill -9`` loses at most the line being written. On restart the writer drops a truncated
last line, reads the keys already present and lets the caller skip them (resume).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

from avcap.errors import DataError


def iter_jsonl(path: str | Path, *, tolerate_truncated_tail: bool = True) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line.

    A last line that does not end in a newline and does not parse is what a killed writer
    leaves behind; it is skipped when ``tolerate_truncated_tail``. Any other bad line raises
    a :class:`DataError` naming ``file:line``.
    """
    path = Path(path)
    with path.open("rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    ends_with_newline = data.endswith(b"\n")
    for index, raw in enumerate(lines):
        line_no = index + 1
        if not raw.strip():
            continue
        is_tail = index == len(lines) - 1 and not ends_with_newline
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            if is_tail and tolerate_truncated_tail:
                return
            raise DataError(f"{path}:{line_no}: invalid JSON ({err.msg if hasattr(err, 'msg') else err})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
        yield line_no, obj


def _repair_tail(path: Path) -> None:
    """Cut a trailing partial line (no final newline) so appends start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1  # 0 when the only line is partial
        tail = data[cut:]
        try:
            json.loads(tail)
        except (json.JSONDecodeError, UnicodeDecodeError):
            f.truncate(cut)
        else:  # a complete object that only lacks its newline: keep it
            f.seek(0, os.SEEK_END)
            f.write(b"\n")
        f.flush()
        os.fsync(f.fileno())


def default_key(row: dict) -> Hashable:
    return (row["id"], row.get("sample", 0))


class JsonlAppender:
    """Append-only JSONL writer with resume.

    >>> with JsonlAppender("captions.jsonl") as out:      # doctest: +SKIP
    ...     for item in items:
    ...         if (item.id, 0) in out.done:
    ...             continue
    ...         out.append({"id": item.id, "caption": ...})

    ``key`` maps a row to its identity (default ``(id, sample)``). ``skip_row`` decides which
    existing rows do not count as done (e.g. rows recorded with an error, to retry them).
    """

    def __init__(
        self,
        path: str | Path,
        key: Callable[[dict], Hashable] = default_key,
        skip_row: Callable[[dict], bool] | None = None,
        fsync: bool = True,
    ):
        self.path = Path(path)
        self.key = key
        self.fsync = fsync
        self.done: set[Hashable] = set()
        self.rows: dict[Hashable, dict] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(self.path)
        if self.path.exists():
            for _, row in iter_jsonl(self.path):
                if skip_row is not None and skip_row(row):
                    continue
                k = key(row)
                self.done.add(k)
                self.rows[k] = row
        self._file = None

    def __enter__(self) -> JsonlAppender:
        self._file = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def append(self, row: dict) -> None:
        if self._file is None:
            raise RuntimeError("JsonlAppender must be used as a context manager")
        line = json.dumps(row, ensure_ascii=False)
        if "\n" in line:  # json.dumps never emits raw newlines; guard the invariant anyway
            raise DataError(f"{self.path}: row would span lines")
        self._file.write(line + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        k = self.key(row)
        self.done.add(k)
        self.rows[k] = row

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` so readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would (0666 & ~umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
