"""Shared fixtures: a local OpenAI-compatible server and fast retry settings."""

from __future__ import annotations

import pytest

from avcap.judge import JudgeConfig, RetryPolicy
from avcap.judge.testing import FakeOpenAIServer


@pytest.fixture
def fast_config() -> JudgeConfig:
    # Real backoff schedule, tiny delays: a test with faults finishes in well under a second.
    return JudgeConfig(concurrency=8, retry=RetryPolicy(max_attempts=6, base_delay_s=0.001, max_delay_s=0.01))


@pytest.fixture
def server_factory():
    started: list[FakeOpenAIServer] = []

    def make(**kwargs) -> FakeOpenAIServer:
        server = FakeOpenAIServer(**kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
