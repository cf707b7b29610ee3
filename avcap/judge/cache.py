"""SQLite cache of judgments, keyed by (backend, model, prompt version, input hash, run index).

One row per successful judgment, committed as soon as it exists, so a run killed with
``kill -9`` keeps everything it had judged and a re-run makes no call for those items.
WAL mode lets several processes read and write the same file at once; ``busy_timeout``
makes a writer wait for the lock instead of failing. Failed judgments are not stored, so
a re-run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avcap.errors import JudgeError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    run_index INTEGER NOT NULL,
    answer_text TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


def cache_key(backend: str, model: str, prompt_version: str, input_hash: str, run_index: int) -> str:
    """A stable key; the parts are joined unambiguously (JSON) before hashing."""
    parts = json.dumps([backend, model, prompt_version, input_hash, int(run_index)], ensure_ascii=False)
    return hashlib.sha256(parts.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    answer_text: str
    answer_json: Any
    prompt_tokens: int
    completion_tokens: int


class JudgeCache:
    """A file-backed judgment cache; safe to share between threads and processes."""

    def __init__(self, path: str | Path, timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._timeout_s = timeout_s
        self._local = threading.local()
        try:
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.commit()
        except sqlite3.DatabaseError as err:
            raise JudgeError(f"{self.path}: cannot open the judge cache ({err})") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout_s)
            conn.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")
            # NORMAL is durable against a killed process in WAL mode (only power loss can
            # drop the last commits), and much faster than FULL.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> CacheEntry | None:
        try:
            row = self._conn().execute(
                "SELECT answer_text, answer_json, prompt_tokens, completion_tokens FROM judgments WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error as err:
            raise JudgeError(f"{self.path}: cannot read the judge cache ({err})") from None
        if row is None:
            return None
        return CacheEntry(row[0], json.loads(row[1]), int(row[2]), int(row[3]))

    def put(
        self,
        key: str,
        *,
        backend: str,
        model: str,
        prompt_version: str,
        input_hash: str,
        run_index: int,
        entry: CacheEntry,
    ) -> None:
        """Store one judgment and commit it. The first writer of a key wins (a concurrent
        duplicate is the same question asked twice; keeping one answer keeps re-runs stable)."""
        conn = self._conn()
        try:
            conn.execute(
                "INSERT OR IGNORE INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key, backend, model, prompt_version, input_hash, int(run_index), entry.answer_text,
                    json.dumps(entry.answer_json, ensure_ascii=False), int(entry.prompt_tokens),
                    int(entry.completion_tokens), time.time(),
                ),
            )
            conn.commit()
        except sqlite3.Error as err:  # e.g. disk full, or locked past the timeout: the item fails, with this cause
            conn.rollback()
            raise JudgeError(f"{self.path}: cannot write the judge cache ({err})") from None

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM judgments").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
