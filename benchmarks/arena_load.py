"""Arena vote throughput: many concurrent voters against one voter at a time, over loopback.

The real server (``avcap arena serve`` in its own process, SQLite WAL with synchronous=FULL)
on 127.0.0.1; voters are aiohttp sessions that open the page, then ask for a pair and vote,
``--votes`` times each. The baseline is a single voter doing the same (requests one after
another). Prints votes/s for both, the ratio, and the vote latency p50 / p95 under load, and
checks that the database holds exactly the acknowledged votes.

    python benchmarks/arena_load.py [--clients 50] [--votes 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: tests.arena helpers

from tests.arena.conftest import ArenaServer, make_files, serve_args  # noqa: E402
from tests.arena.load import run_load  # noqa: E402


def measure(files, folder: Path, name: str, clients: int, votes: int):
    db = folder / f"{name}.sqlite"
    server = ArenaServer(serve_args(files, db))
    try:
        result = run_load(server.url, clients, votes)
    finally:
        server.stop()
    stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM votes").fetchone()[0]
    if result.errors or stored != len(result.acknowledged) or stored != clients * votes:
        raise SystemExit(f"{name}: {stored} stored, {len(result.acknowledged)} acknowledged, errors {result.errors[:3]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--votes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # 8 videos x 4 models = 48 pairs: enough for 20 distinct pairs per voter
        files = make_files(folder / "data", max(8, args.votes // 6 + 1), ["alpha", "beta", "gamma", "delta"])
        one = measure(files, folder, "baseline", 1, args.votes)
        many = measure(files, folder, "load", args.clients, args.votes)
    n = args.clients * args.votes
    base_rate, rate = args.votes / one.wall_s, n / many.wall_s
    print(f"baseline 1 voter x {args.votes}: {base_rate:.0f} votes/s, vote p50 {1000 * one.percentile(0.5):.1f} ms")
    print(f"{args.clients} voters x {args.votes}: {n} votes stored = acknowledged, {many.wall_s:.1f} s, "
          f"{rate:.0f} votes/s, vote p50 {1000 * many.percentile(0.5):.0f} ms, p95 {1000 * many.percentile(0.95):.0f} ms")
    print(f"throughput ratio (concurrent / one voter): {rate / base_rate:.2f}x")


if __name__ == "__main__":
    main()
