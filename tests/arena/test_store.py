"""SQLite storage: WAL + full sync, one vote per voter per pair, replay refused, nothing lost on reopen."""

import sqlite3
import time

import pytest

from avcap.arena.store import AlreadyVoted, ArenaStore, Matchup, UnknownMatchup, open_existing
from avcap.errors import DataError


def matchup(token="t1", voter="v1", video="x", left="a", right="b", kind="model"):
    return Matchup(token, voter, video, f"{video}.mp4", kind, left, right, f"caption by {left}", f"caption by {right}",
                   time.time())


def test_wal_and_full_sync(tmp_path):
    store = ArenaStore(tmp_path / "a.sqlite")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.secret() == store.secret() and len(store.secret()) == 64


def test_vote_roundtrip_and_fields(tmp_path):
    store = ArenaStore(tmp_path / "a.sqlite")
    store.issue(matchup())
    assert store.pending("v1").token == "t1"
    assert store.record_vote("v1", "t1", "right", now=123.0) == 1
    assert store.pending("v1") is None
    (v,) = store.votes()
    assert (v.voter, v.time, v.video, v.model_left, v.model_right, v.answer) == ("v1", 123.0, "x", "a", "b", "right")
    assert v.caption_left == "caption by a" and v.winner == "b"
    (rec,) = store.vote_records()
    assert rec["video_path"] == "x.mp4" and rec["id"] == 1


def test_replay_unknown_and_foreign_matchups_refused(tmp_path):
    store = ArenaStore(tmp_path / "a.sqlite")
    store.issue(matchup())
    store.record_vote("v1", "t1", "left")
    with pytest.raises(AlreadyVoted):
        store.record_vote("v1", "t1", "left")  # replay
    with pytest.raises(UnknownMatchup):
        store.record_vote("v1", "nope", "left")
    store.issue(matchup("t2", voter="v2"))
    with pytest.raises(UnknownMatchup):
        store.record_vote("v1", "t2", "left")  # someone else's matchup
    with pytest.raises(DataError, match="answer"):
        store.record_vote("v2", "t2", "maybe")
    assert store.vote_count() == 1


def test_same_pair_never_issued_twice_to_a_voter_either_side(tmp_path):
    store = ArenaStore(tmp_path / "a.sqlite")
    store.issue(matchup("t1", left="a", right="b"))
    with pytest.raises(AlreadyVoted):
        store.issue(matchup("t2", left="b", right="a"))  # sides swapped: still the same pair
    store.issue(matchup("t3", voter="v2", left="b", right="a"))  # another voter may see it
    store.issue(matchup("t4", video="y"))  # another video is another pair
    assert store.seen("v1") == {("x", "a", "b"), ("y", "a", "b")}
    assert sorted(store.issued_counts()) == [("x", "a", "b", 2), ("y", "a", "b", 1)]


def test_the_database_itself_forbids_a_second_vote_on_a_pair(tmp_path):
    store = ArenaStore(tmp_path / "a.sqlite")
    store.issue(matchup())
    store.record_vote("v1", "t1", "left")
    with pytest.raises(sqlite3.IntegrityError):  # even bypassing the matchup check
        store._db.execute("INSERT INTO votes (matchup, voter, time, video, video_path, kind, model_left, model_right, "
                          "caption_left, caption_right, model_lo, model_hi, answer) VALUES "
                          "('t9', 'v1', 0, 'x', 'x.mp4', 'model', 'b', 'a', '', '', 'a', 'b', 'left')")


def test_committed_votes_survive_reopen_without_close(tmp_path):
    path = tmp_path / "a.sqlite"
    store = ArenaStore(path)
    for i in range(5):
        store.issue(matchup(f"t{i}", video=f"v{i}"))
        store.record_vote("v1", f"t{i}", "tie")
    other = ArenaStore(path)  # a second connection sees every acknowledged vote at once
    assert other.vote_count() == 5
    assert open_existing(path).vote_count() == 5


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        open_existing(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="not a usable arena database"):
        ArenaStore(junk)
    with pytest.raises(DataError, match="does not exist"):
        ArenaStore(tmp_path / "no" / "dir.sqlite")
