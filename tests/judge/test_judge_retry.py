import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from avcap.judge.retry import RetryPolicy, backoff_delay, parse_retry_after


def test_backoff_doubles_without_jitter_and_caps():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0, jitter=0.0)
    assert [backoff_delay(policy, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_in_band_and_varies():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100.0, jitter=0.5)
    rng = random.Random(0)
    delays = [backoff_delay(policy, 3, rng=rng) for _ in range(200)]  # nominal 4 s
    assert all(2.0 <= d <= 6.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 100


def test_retry_after_is_a_lower_bound_and_is_capped():
    policy = RetryPolicy(base_delay_s=0.01, jitter=0.0, max_retry_after_s=20.0)
    assert backoff_delay(policy, 1, retry_after_s=7.0) == 7.0
    assert backoff_delay(policy, 1, retry_after_s=500.0) == 20.0
    assert backoff_delay(policy, 1, retry_after_s=0.0) == 0.01


def test_parse_retry_after():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay_s": -1}, {"jitter": 1.5}])
def test_policy_validation(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_failed_attempts_must_be_positive():
    with pytest.raises(ValueError):
        backoff_delay(RetryPolicy(), 0)
