"""50 concurrent voters x 20 votes store exactly 1000 votes; SIGKILL loses no acknowledged vote."""

import sqlite3

from tests.arena.conftest import ArenaServer, serve_args
from tests.arena.load import run_load


def _db_votes(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT matchup, voter, video, model_lo, model_hi FROM votes").fetchall()
    finally:
        con.close()


def test_50_clients_x_20_votes(files, tmp_path):
    db = tmp_path / "load.sqlite"
    server = ArenaServer(serve_args(files, db))
    try:
        result = run_load(server.url, clients=50, votes=20)
    finally:
        server.stop()
    assert result.errors == []
    assert len(result.acknowledged) == 1000
    rows = _db_votes(db)
    assert len(rows) == 1000
    assert {r[0] for r in rows} == set(result.acknowledged)
    voters = {r[1] for r in rows}
    assert len(voters) == 50
    assert len({r[1:] for r in rows}) == 1000  # no voter voted twice on a pair
    print(f"\nload: 1000 votes from 50 clients in {result.wall_s:.1f} s = {1000 / result.wall_s:.0f} votes/s; "
          f"vote latency p50 {1000 * result.percentile(0.5):.0f} ms, p95 {1000 * result.percentile(0.95):.0f} ms, "
          f"max {1000 * max(result.latencies_s):.0f} ms")


def test_sigkill_mid_load_loses_no_acknowledged_vote(files, tmp_path):
    db = tmp_path / "kill.sqlite"
    server = ArenaServer(serve_args(files, db))

    def kill_at(n):  # SIGKILL right after the 100th acknowledgement, with ~12 votes in flight
        if n == 100:
            server.kill()

    try:
        result = run_load(server.url, clients=12, votes=20, on_ack=kill_at)
    finally:
        server.stop()
    acked = set(result.acknowledged)
    assert 100 <= len(acked) < 240  # the kill came mid-run
    assert result.errors  # the clients saw the server die
    stored = {r[0] for r in _db_votes(db)}
    assert acked <= stored  # every acknowledged vote is on disk
    assert len(stored) - len(acked) <= 12  # at most one unacknowledged in-flight vote per client
    # the killed server's file opens and serves again, resuming where it was
    again = ArenaServer(serve_args(files, db))
    try:
        more = run_load(again.url, clients=2, votes=3)
    finally:
        again.stop()
    assert more.errors == [] and len(_db_votes(db)) == len(stored) + 6
