"""Rate limits: the paced bucket's schedule by hand, and a real run's observed rate at a fake server."""

import asyncio

import pytest

from avcap.judge import Judge, JudgeConfig, tasks
from avcap.judge.backends.openai import OpenAIBackend
from avcap.judge.ratelimit import PacedBucket, RateLimiter, RateLimits, estimate_tokens
from avcap.judge.testing import FakeOpenAIServer


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_requests_are_spaced_one_interval_apart():
    clock = Clock()
    bucket = PacedBucket(rate_per_s=2.0, burst=1.0, clock=clock)
    assert [bucket.reserve(1) for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]  # four callers at once
    clock.now += 10  # idle: the schedule does not bank unused slots beyond the burst
    assert bucket.reserve(1) == 0.0 and bucket.reserve(1) == 0.5


def test_token_costs_are_paced_with_a_one_second_burst():
    clock = Clock()
    bucket = PacedBucket(rate_per_s=100.0, burst=100.0, clock=clock)  # 6,000 tokens a minute
    # 60 tokens: due at once; the next 60 may use the rest of the burst (40) and wait for 20.
    assert bucket.reserve(60) == 0.0
    assert bucket.reserve(60) == pytest.approx(0.2)
    # A call larger than the burst waits for its whole cost beyond what is due.
    assert bucket.reserve(250) == pytest.approx(1.2)


def test_limits_are_validated_and_estimates_count_prompt_and_answer():
    with pytest.raises(ValueError):
        RateLimits(requests_per_minute=0)
    assert not RateLimits().active and RateLimits(tokens_per_minute=10).active
    assert estimate_tokens([{"content": "x" * 400}], 100) == 200


def test_a_limiter_waits_through_its_sleep():
    clock, slept = Clock(), []

    async def sleep(seconds):
        slept.append(seconds)

    limiter = RateLimiter(RateLimits(requests_per_minute=120, tokens_per_minute=600), clock=clock, sleep=sleep)

    async def go():
        for _ in range(3):
            await limiter.acquire(5)

    asyncio.run(go())
    # 2 requests/s (0.5 s apart) and 10 tokens/s: 5-token calls are due 0.5 s apart under both.
    assert slept == pytest.approx([0.5, 1.0]) and limiter.waited_s == pytest.approx(1.5)


def _observed_rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0])


@pytest.mark.parametrize("limits, per_s", [(RateLimits(requests_per_minute=600), 10.0),
                                           (RateLimits(tokens_per_minute=None), None)])
def test_observed_rate_at_the_server_is_within_ten_percent_of_the_limit(limits, per_s):
    events = ["A man opens a door.", "A dog barks."]
    task_list = [tasks.salmonn2_judgment(f"v{i}", f"caption {i}", events) for i in range(25)]
    if per_s is None:  # the token limit alone: 10 calls a second at this prompt's estimated size
        estimate = estimate_tokens(list(task_list[0].messages), 64)
        limits, per_s = RateLimits(tokens_per_minute=estimate * 600), 10.0
    with FakeOpenAIServer() as server:
        backend = OpenAIBackend("fake", base_url=server.base_url, limits=limits)
        judge = Judge(backend, config=JudgeConfig(concurrency=16, max_tokens=64))

        async def go():
            try:
                return await asyncio.gather(*(judge.ask(t) for t in task_list))
            finally:
                await judge.aclose()

        results = asyncio.run(go())
    assert all(r.ok for r in results)
    observed = _observed_rate(server.request_times)
    assert per_s * 0.9 <= observed <= per_s * 1.1, observed
