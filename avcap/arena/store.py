"""The arena's SQLite file: every matchup shown and every vote, kept through any crash.

- WAL journal with ``synchronous=FULL``: a vote is acknowledged only after its transaction
  committed and was synced, so neither a killed server nor a power cut loses it.
- A *matchup* is one pair (video + two captions, sides fixed) issued to one voter, under an
  unguessable token; the vote names the token, so a client can only answer what it was shown.
- ``UNIQUE(voter, video, model_lo, model_hi)`` on both tables: a voter is never shown the same
  pair twice and cannot vote twice on it, whatever the server's memory holds.
- Each vote copies what was on screen (models, sides, both captions), so the votes stay
  interpretable after the caption files change.

One connection, one lock: the app's request threads take turns (a vote is ~1 ms of work);
concurrent *processes* on one file are still safe, through SQLite's own locking.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from avcap.arena.votes import ANSWERS, Vote
from avcap.errors import DataError

SCHEMA_VERSION = "1"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS matchups (
    token TEXT PRIMARY KEY,
    voter TEXT NOT NULL,
    video TEXT NOT NULL,
    video_path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('model', 'gold')),
    model_left TEXT NOT NULL, model_right TEXT NOT NULL,
    caption_left TEXT NOT NULL, caption_right TEXT NOT NULL,
    model_lo TEXT NOT NULL, model_hi TEXT NOT NULL,
    issued_at REAL NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    UNIQUE (voter, video, model_lo, model_hi)
);
CREATE INDEX IF NOT EXISTS matchups_open ON matchups (voter, answered);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    matchup TEXT NOT NULL UNIQUE REFERENCES matchups (token),
    voter TEXT NOT NULL,
    time REAL NOT NULL,
    video TEXT NOT NULL,
    video_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    model_left TEXT NOT NULL, model_right TEXT NOT NULL,
    caption_left TEXT NOT NULL, caption_right TEXT NOT NULL,
    model_lo TEXT NOT NULL, model_hi TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ({", ".join(repr(a) for a in ANSWERS)})),
    UNIQUE (voter, video, model_lo, model_hi)
);
"""


class UnknownMatchup(DataError):
    """The token names no matchup issued to this voter."""


class AlreadyVoted(DataError):
    """The matchup (or the same pair) already has this voter's vote."""


@dataclass(frozen=True)
class Matchup:
    token: str
    voter: str
    video: str
    video_path: str  # relative to the videos folder, with "/" separators
    kind: str
    model_left: str
    model_right: str
    caption_left: str
    caption_right: str
    issued_at: float

    @property
    def pair(self) -> tuple[str, str, str]:
        lo, hi = sorted((self.model_left, self.model_right))
        return self.video, lo, hi


_MATCHUP_COLUMNS = ("token, voter, video, video_path, kind, model_left, model_right, caption_left, caption_right, "
                    "issued_at")
_VOTE_COLUMNS = "voter, time, video, kind, model_left, model_right, caption_left, caption_right, answer"


class ArenaStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise DataError(f"{self.path}: folder {self.path.parent} does not exist")
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise DataError(f"{self.path}: SQLite refused WAL mode (got {mode}); is it on a network share?")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise DataError(f"{self.path}: not a usable arena database ({err})") from None
        version = self.get_meta("schema")
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise DataError(f"{self.path}: arena schema {version}, this avcap reads {SCHEMA_VERSION}")

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def secret(self) -> str:
        """The server's signing key, made once and kept in the file so tokens survive restarts."""
        with self._lock:
            value = self.get_meta("secret")
            if value is None:
                value = secrets.token_hex(32)
                self.set_meta("secret", value)
        return value

    # --- matchups --------------------------------------------------------------------------

    def pending(self, voter: str) -> Matchup | None:
        """The voter's oldest matchup without a vote (a reloaded page shows it again)."""
        with self._lock:
            row = self._db.execute(f"SELECT {_MATCHUP_COLUMNS} FROM matchups WHERE voter = ? AND answered = 0 "
                                   "ORDER BY issued_at LIMIT 1", (voter,)).fetchone()
        return None if row is None else Matchup(*row)

    def seen(self, voter: str) -> set[tuple[str, str, str]]:
        """Every (video, model_lo, model_hi) ever issued to the voter."""
        with self._lock:
            rows = self._db.execute("SELECT video, model_lo, model_hi FROM matchups WHERE voter = ?", (voter,))
            return {tuple(r) for r in rows}

    def issued_counts(self) -> list[tuple[str, str, str, int]]:
        """``(video, model_lo, model_hi, times issued)``: the scheduler's starting counts."""
        with self._lock:
            return [tuple(r) for r in self._db.execute(
                "SELECT video, model_lo, model_hi, COUNT(*) FROM matchups GROUP BY video, model_lo, model_hi")]

    def issue(self, m: Matchup) -> None:
        """Store a new matchup; :class:`AlreadyVoted` if the voter was already shown this pair."""
        lo, hi = sorted((m.model_left, m.model_right))
        try:
            with self._transaction() as db:
                db.execute(f"INSERT INTO matchups ({_MATCHUP_COLUMNS}, model_lo, model_hi) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (m.token, m.voter, m.video, m.video_path, m.kind, m.model_left, m.model_right,
                            m.caption_left, m.caption_right, m.issued_at, lo, hi))
        except sqlite3.IntegrityError:
            raise AlreadyVoted(f"voter was already shown {m.video} {lo} vs {hi}") from None

    # --- votes -----------------------------------------------------------------------------

    def record_vote(self, voter: str, token: str, answer: str, now: float | None = None) -> int:
        """Store the vote in one synced transaction; returns the voter's vote count.

        :class:`UnknownMatchup` if the token was not issued to this voter, :class:`AlreadyVoted`
        if it already has a vote (a replay).
        """
        if answer not in ANSWERS:
            raise DataError(f"answer must be one of {', '.join(ANSWERS)}, got {answer!r}")
        now = time.time() if now is None else now
        with self._transaction() as db:
            row = db.execute("SELECT answered, video, video_path, kind, model_left, model_right, caption_left, "
                             "caption_right, model_lo, model_hi FROM matchups WHERE token = ? AND voter = ?",
                             (token, voter)).fetchone()
            if row is None:
                raise UnknownMatchup("no such matchup for this voter")
            if row[0]:
                raise AlreadyVoted("this matchup already has a vote")
            try:
                db.execute("INSERT INTO votes (matchup, voter, time, video, video_path, kind, model_left, "
                           "model_right, caption_left, caption_right, model_lo, model_hi, answer) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (token, voter, now, *row[1:], answer))
            except sqlite3.IntegrityError:
                raise AlreadyVoted("this voter already voted on this pair") from None
            db.execute("UPDATE matchups SET answered = 1 WHERE token = ?", (token,))
            return db.execute("SELECT COUNT(*) FROM votes WHERE voter = ?", (voter,)).fetchone()[0]

    def vote_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]

    def votes(self) -> list[Vote]:
        """All votes in the order they were cast."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_VOTE_COLUMNS} FROM votes ORDER BY id").fetchall()
        return [Vote(*r) for r in rows]

    def vote_records(self) -> list[dict]:
        """All votes with their id and media path (for export)."""
        with self._lock:
            cur = self._db.execute(f"SELECT id, {_VOTE_COLUMNS}, video_path FROM votes ORDER BY id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]


def open_existing(path: str | Path) -> ArenaStore:
    """Open a database that must already exist (``rank``, ``pairs``, ``export``)."""
    if not Path(path).is_file():
        raise DataError(f"{path}: arena database not found")
    return ArenaStore(path)
