"""Retry timing: exponential backoff with jitter, honouring the server's ``Retry-After``.

Pure functions, so the schedule is tested without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    max_attempts: int = 6  # calls in all, the first one included
    base_delay_s: float = 0.5  # delay before the 2nd attempt; doubles after each failure
    max_delay_s: float = 30.0
    jitter: float = 0.5  # the delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
    max_retry_after_s: float = 120.0  # a larger Retry-After is capped (a bad header must not hang a run)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("retry delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in [0, 1]")


def backoff_delay(
    policy: RetryPolicy, failed_attempts: int, retry_after_s: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds to wait after ``failed_attempts`` (>= 1) failures.

    Exponential backoff ``base * 2**(failed_attempts - 1)`` capped at ``max_delay_s``, scaled
    by jitter so that many clients throttled at once do not retry in lock-step. A server's
    ``Retry-After`` is a lower bound (capped at ``max_retry_after_s``): retrying earlier
    only earns another 429.
    """
    if failed_attempts < 1:
        raise ValueError("failed_attempts must be >= 1")
    rng = rng or random.Random()
    exp = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (failed_attempts - 1))
    delay = exp * rng.uniform(1.0 - policy.jitter, 1.0 + policy.jitter)
    delay = min(delay, policy.max_delay_s)
    if retry_after_s is not None:
        delay = max(delay, min(max(retry_after_s, 0.0), policy.max_retry_after_s))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
