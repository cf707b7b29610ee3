"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1, faults included."""

import asyncio
import logging

import pytest

from avcap.errors import ConfigError, JudgeError
from avcap.judge import BackendOptions, Judge, TransientJudgeError, create_backend, tasks
from avcap.judge.backends.openai import OpenAIBackend
from avcap.judge.testing import FaultPlan

KEY = "sk-test-SECRET-4242"
EVENTS = ["A man opens a door.", "A dog barks twice."]


def ask(backend, messages=None):
    async def go():
        try:
            return await backend.chat(messages or list(tasks.salmonn2_judgment("v", "A man opens a door.", EVENTS).messages))
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_answers_and_usage_and_bearer_key(server_factory):
    server = server_factory()
    reply = ask(OpenAIBackend("judge-m", base_url=server.base_url, api_key=KEY))
    assert reply.text.startswith('{"missing": [2]') and reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert server.last_authorization == f"Bearer {KEY}"
    no_key = OpenAIBackend("judge-m", base_url=server.base_url)
    ask(no_key)
    assert server.last_authorization is None  # local servers need no key: none is sent


@pytest.mark.parametrize("kind, expect", [
    ("429", "HTTP 429"), ("500", "HTTP 500"), ("503", "HTTP 503"), ("stall", "within 0.3s"),
    ("drop", "connection to"), ("truncated_body", "unreadable response body"),
])
def test_each_transport_fault_is_transient(server_factory, kind, expect):
    server = server_factory(faults=FaultPlan(rate=1.0, kinds=(kind,), retry_after_s=2.5, stall_s=1.0, max_per_prompt=1))
    with pytest.raises(TransientJudgeError) as info:
        ask(OpenAIBackend("m", base_url=server.base_url, timeout_s=0.3))
    assert expect in str(info.value)
    if kind == "429":
        assert info.value.retry_after_s == 2.5
    reply = ask(OpenAIBackend("m", base_url=server.base_url, timeout_s=0.3))  # the next attempt goes through
    assert reply.text


def test_malformed_and_fenced_answers_reach_the_judge_which_repairs_or_reasks(server_factory, fast_config):
    for kind, expected_requests in (("fenced_answer", 1), ("malformed_answer", 2)):
        server = server_factory(faults=FaultPlan(rate=1.0, kinds=(kind,), max_per_prompt=1))
        judge = Judge(OpenAIBackend("m", base_url=server.base_url), config=fast_config)

        async def go(judge=judge):
            try:
                return await judge.ask(tasks.salmonn2_judgment("v", "A man opens a door.", EVENTS))
            finally:
                await judge.aclose()

        result = asyncio.run(go())
        assert result.ok and result.value.missing == (1,)
        assert server.requests == expected_requests, kind


def test_bad_key_is_permanent_and_never_shown(server_factory, caplog):
    server = server_factory(api_key="the-right-key")
    backend = OpenAIBackend("m", base_url=server.base_url, api_key=KEY)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(JudgeError) as info:
        ask(backend)
    assert not isinstance(info.value, TransientJudgeError)
    message = str(info.value)
    assert "HTTP 401" in message and "is the API key right?" in message
    assert "Incorrect API key provided: ***" in message  # the server echoed the key; it was scrubbed
    assert KEY not in message and KEY not in repr(backend) and KEY not in str(vars(backend).get("model"))
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_key_never_in_logs_during_a_faulty_run(server_factory, caplog, fast_config, monkeypatch):
    server = server_factory(faults=FaultPlan(rate=0.6, seed=3), api_key=KEY)
    monkeypatch.setenv("AVCAP_TEST_KEY", KEY)
    backend = create_backend("openai", BackendOptions(model="m", base_url=server.base_url, api_key_env="AVCAP_TEST_KEY",
                                                      timeout_s=0.3))
    judge = Judge(backend, config=fast_config)
    caplog.set_level(logging.DEBUG)

    async def go():
        try:
            return await asyncio.gather(*(judge.ask(tasks.salmonn2_judgment(f"v{i}", f"A man opens a door {i}.", EVENTS))
                                          for i in range(12)))
        finally:
            await judge.aclose()

    results = asyncio.run(go())
    assert all(r.ok for r in results) and sum(server.fault_counts.values()) > 0
    assert judge.stats.retries > 0
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)
    assert KEY not in repr(backend)


def test_missing_key_for_api_openai_com_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set the OPENAI_API_KEY environment variable"):
        create_backend("openai", BackendOptions(model="gpt-4.1"))
    with pytest.raises(ConfigError, match="--judge-model"):
        create_backend("openai", BackendOptions(base_url="http://127.0.0.1:1/v1"))


def test_seed_top_p_and_a_server_default_temperature_are_sent_as_asked(server_factory):
    server = server_factory()
    backend = OpenAIBackend("judge-m", base_url=server.base_url)

    async def go():
        try:
            await backend.chat(list(tasks.salmonn2_judgment("v", "A man.", EVENTS).messages), temperature=None,
                               seed=2024, top_p=0.1, max_tokens=256)
            await backend.chat(list(tasks.salmonn2_judgment("v", "A dog.", EVENTS).messages))
        finally:
            await backend.aclose()

    asyncio.run(go())
    first, second = server.bodies
    assert "temperature" not in first and (first["seed"], first["top_p"], first["max_tokens"]) == (2024, 0.1, 256)
    assert second["temperature"] == 0.0 and "seed" not in second and "top_p" not in second
    assert backend.served == {"judge-m": 2}  # the snapshot the server says answered
