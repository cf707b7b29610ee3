"""Concurrent voters over loopback (aiohttp), shared by the load test and benchmarks/arena_load.py.

Each voter is its own session (own cookie jar): open the page, read the CSRF token, then
``votes`` times ask for a pair and answer it. Only 127.0.0.1 is ever contacted; every loop is
bounded in count, and every request in time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse


@dataclass
class LoadResult:
    acknowledged: list[str] = field(default_factory=list)  # matchup tokens the server said "ok" to
    latencies_s: list[float] = field(default_factory=list)  # per vote request
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        values = sorted(self.latencies_s)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def _voter(url: str, votes: int, result: LoadResult, rng: random.Random,
                 on_ack: Callable[[int], None] | None) -> None:
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as session:
        async with session.get(url + "/") as r:
            html = await r.text()
        csrf = html.split('name="arena-csrf" content="')[1].split('"')[0]
        headers = {"X-Arena-CSRF": csrf}
        for _ in range(votes):
            async with session.post(url + "/api/next", json={}, headers=headers) as r:
                m = await r.json()
            if r.status != 200 or "matchup" not in m:
                result.errors.append(f"next: {r.status} {m}")
                return
            answer = rng.choice(["left", "right", "tie", "bad"])
            start = time.perf_counter()
            async with session.post(url + "/api/vote", json={"matchup": m["matchup"], "answer": answer},
                                    headers=headers) as r:
                body = await r.json()
            result.latencies_s.append(time.perf_counter() - start)
            if r.status == 200 and body.get("ok"):
                result.acknowledged.append(m["matchup"])
                if on_ack is not None:
                    on_ack(len(result.acknowledged))
            else:
                result.errors.append(f"vote: {r.status} {body}")


async def _run(url: str, clients: int, votes: int, seed: int, on_ack) -> LoadResult:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests only target loopback, not {host}")
    result = LoadResult()
    start = time.perf_counter()
    outcomes = await asyncio.gather(*(_voter(url, votes, result, random.Random(seed + i), on_ack)
                                      for i in range(clients)), return_exceptions=True)
    result.errors += [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    result.wall_s = time.perf_counter() - start
    return result


def run_load(url: str, clients: int, votes: int, seed: int = 0,
             on_ack: Callable[[int], None] | None = None) -> LoadResult:
    """``clients`` concurrent voters x ``votes`` each; ``on_ack(n)`` runs after the n-th acknowledged vote."""
    return asyncio.run(_run(url, clients, votes, seed, on_ack))
