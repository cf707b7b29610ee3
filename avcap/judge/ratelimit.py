"""Requests-per-minute and tokens-per-minute limits for judge calls, honoured across a whole run.

A hosted judge (OpenAI, a shared vLLM) answers 429 once a client exceeds its per-minute quota;
retrying with backoff works but wastes calls and time. Pacing the calls below the quota from
the start avoids most 429s. Each limit is a token bucket in its "virtual scheduling" form
(GCRA): a call of cost ``c`` is due ``c / rate`` seconds after the previous one, less a burst
allowance, so concurrent callers take consecutive slots and the long-run rate never exceeds
the limit. The token cost of a call is known only after it returns, so it is charged up front
from an estimate (prompt characters / 4 plus the answer limit), as OpenAI itself counts a
request against its token limit when it arrives.

Written here rather than taken from aiolimiter: its bucket holds a whole period's quota (so a
per-minute limit lets a minute's worth of calls through at once) and refuses a single call
larger than that capacity, while a judge needs steady pacing of calls that are each large.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

CHARS_PER_TOKEN = 4  # the usual rough rate for English text with OpenAI's tokenisers


class PacedBucket:
    """Calls of a given cost spaced so that ``rate_per_s`` is never exceeded beyond ``burst``."""

    def __init__(self, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic):
        if rate_per_s <= 0 or burst <= 0:
            raise ValueError("rate and burst must be > 0")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self._due = clock()  # when the bucket is next empty ("theoretical arrival time")

    def reserve(self, cost: float) -> float:
        """Take ``cost`` now; return how many seconds the caller must wait before spending it."""
        now = self.clock()
        due = max(self._due, now)
        wait = max(0.0, due - now - (self.burst - min(cost, self.burst)) / self.rate_per_s)
        self._due = due + cost / self.rate_per_s
        return wait


@dataclass
class RateLimits:
    """Per-minute limits; None leaves that one unlimited."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0")

    @property
    def active(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None


class RateLimiter:
    """``await limiter.acquire(estimated_tokens)`` before each call; one limiter serves a whole run."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.limits = limits
        self.sleep = sleep
        # No burst: every call waits for its slot, so the rate holds over any window, not only a minute's.
        self._requests = None if limits.requests_per_minute is None else \
            PacedBucket(limits.requests_per_minute / 60.0, 1.0, clock)
        self._tokens = None if limits.tokens_per_minute is None else \
            PacedBucket(limits.tokens_per_minute / 60.0, 1.0, clock)
        self.waited_s = 0.0

    async def acquire(self, estimated_tokens: int) -> None:
        wait = 0.0
        if self._requests is not None:
            wait = max(wait, self._requests.reserve(1.0))
        if self._tokens is not None:
            wait = max(wait, self._tokens.reserve(float(max(1, estimated_tokens))))
        if wait > 0:
            self.waited_s += wait
            await self.sleep(wait)


def estimate_tokens(messages: list[dict], max_tokens: int | None) -> int:
    """Prompt characters / 4 plus the answer limit (or a typical answer length when none is set)."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return chars // CHARS_PER_TOKEN + (max_tokens if max_tokens is not None else 256)
