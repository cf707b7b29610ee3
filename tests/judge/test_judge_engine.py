import asyncio
import json

import pytest

from avcap.errors import JudgeError
from avcap.judge import ChatReply, Judge, JudgeCache, JudgeConfig, RetryPolicy, TransientJudgeError, tasks
from avcap.judge.backends.scripted import ScriptedBackend

EVENTS = ["A man opens a door.", "A dog barks."]
GOOD = json.dumps({"missing": [2], "incorrect": [], "hallucinated": []})


def task(caption="A man opens a door."):
    return tasks.salmonn2_judgment("v1", caption, EVENTS)


def script(*answers):
    """A responder that plays ``answers`` in order (exceptions are raised), then repeats the last."""
    queue = list(answers)

    def respond(messages):
        out = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(out, BaseException):
            raise out
        return out

    return respond


class RecordingSleep:
    def __init__(self):
        self.delays = []

    async def __call__(self, delay):
        self.delays.append(delay)


def test_transient_faults_are_retried_honouring_retry_after():
    backend = ScriptedBackend(script(TransientJudgeError("HTTP 429", retry_after_s=7.0), TransientJudgeError("HTTP 500"), GOOD))
    sleep = RecordingSleep()
    judge = Judge(backend, config=JudgeConfig(retry=RetryPolicy(base_delay_s=0.01, jitter=0.0)), sleep=sleep)
    result = asyncio.run(judge.ask(task()))
    assert result.ok and result.value.missing == (1,)
    assert backend.calls == 3 and sleep.delays == [7.0, 0.02]
    assert judge.stats.retries == 2


def test_gives_up_after_max_attempts_with_the_cause():
    backend = ScriptedBackend(script(TransientJudgeError("HTTP 503 from http://x")))
    judge = Judge(backend, config=JudgeConfig(retry=RetryPolicy(max_attempts=3, base_delay_s=0)), sleep=RecordingSleep())
    result = asyncio.run(judge.ask(task()))
    assert not result.ok and backend.calls == 3
    assert result.error == "salmonn2.judge: gave up after 3 attempts: HTTP 503 from http://x"


def test_permanent_error_is_not_retried():
    backend = ScriptedBackend(script(JudgeError("HTTP 401 (is the API key right?)")))
    result = asyncio.run(Judge(backend).ask(task()))
    assert backend.calls == 1 and "HTTP 401" in result.error


def test_backend_bug_fails_the_item_not_the_run():
    backend = ScriptedBackend(script(KeyError("choices")))
    result = asyncio.run(Judge(backend).ask(task()))
    assert not result.ok and "KeyError" in result.error


def test_malformed_answer_is_repaired_without_a_reask():
    backend = ScriptedBackend(script("```json\n" + GOOD[:-1] + ",}\n```"))
    judge = Judge(backend)
    assert asyncio.run(judge.ask(task())).ok and backend.calls == 1 and judge.stats.reasks == 0


def test_malformed_answer_is_reasked_then_recorded_as_failed():
    backend = ScriptedBackend(script('{"missing": [2', GOOD))
    judge = Judge(backend)
    result = asyncio.run(judge.ask(task()))
    assert result.ok and backend.calls == 2 and judge.stats.reasks == 1
    reask = backend.requests[1]
    assert reask[-2] == {"role": "assistant", "content": '{"missing": [2'}
    assert "could not be used" in reask[-1]["content"] and reask[:2] == list(task().messages)

    stubborn = ScriptedBackend(script('{"missing": "all"}'))
    result = asyncio.run(Judge(stubborn, config=JudgeConfig(max_reasks=2)).ask(task()))
    assert stubborn.calls == 3 and not result.ok
    assert result.error.startswith("salmonn2.judge: malformed answer after 3 tries: missing must be a list")


def test_cache_makes_a_rerun_free_and_keys_include_the_run_index(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    backend = ScriptedBackend(script(ChatReply(GOOD, 100, 10)))
    judge = Judge(backend, cache)

    async def both():
        return await asyncio.gather(judge.ask(task(), 0), judge.ask(task(), 1))

    first = asyncio.run(both())
    assert backend.calls == 2 and len(cache) == 2 and first[0].key != first[1].key
    again = Judge(ScriptedBackend(script(RuntimeError("must not be called"))), JudgeCache(tmp_path / "c.sqlite"))
    second = asyncio.run(again.ask(task(), 1))
    assert second.cached and second.value == first[1].value and again.backend.calls == 0
    assert (second.prompt_tokens, second.completion_tokens) == (100, 10)  # tokens come back from the cache
    other_model = Judge(ScriptedBackend(script(GOOD), model="other"), cache)
    asyncio.run(other_model.ask(task(), 0))
    assert other_model.backend.calls == 1


def test_failed_judgments_are_not_cached(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    asyncio.run(Judge(ScriptedBackend(script("nonsense")), cache).ask(task()))
    assert len(cache) == 0


def test_identical_questions_in_flight_are_asked_once():
    backend = ScriptedBackend(script(GOOD), latency_s=0.02)
    judge = Judge(backend)

    async def many():
        return await asyncio.gather(*(judge.ask(task()) for _ in range(5)))

    results = asyncio.run(many())
    assert backend.calls == 1 and all(r.ok for r in results)


def test_concurrency_limit_is_respected():
    state = {"now": 0, "peak": 0}

    class Tracking(ScriptedBackend):
        async def chat(self, messages, **kw):
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            await asyncio.sleep(0.005)
            state["now"] -= 1
            return await super().chat(messages, **kw)

    judge = Judge(Tracking(script(GOOD)), config=JudgeConfig(concurrency=3))

    async def many():
        return await asyncio.gather(*(judge.ask(task(f"caption {i}")) for i in range(20)))

    assert all(r.ok for r in asyncio.run(many()))
    assert state["peak"] == 3


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"temperature": -1}, {"max_tokens": 0}, {"max_reasks": -1}])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        JudgeConfig(**kwargs)


def test_an_unwritable_cache_fails_the_item_with_the_cause(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    conn = cache._conn()
    conn.execute("CREATE TRIGGER no_writes BEFORE INSERT ON judgments BEGIN SELECT RAISE(FAIL, 'disk full'); END")
    conn.commit()
    result = asyncio.run(Judge(ScriptedBackend(script(GOOD)), cache).ask(task()))
    assert not result.ok and "cannot write the judge cache (disk full)" in result.error


def test_an_answer_naming_events_that_do_not_exist_is_reasked_then_failed():
    bogus = json.dumps({"missing": [99, 100], "incorrect": [], "hallucinated": []})
    backend = ScriptedBackend(script(bogus, GOOD))
    judge = Judge(backend, config=JudgeConfig(max_reasks=2))
    result = asyncio.run(judge.ask(task()))
    assert result.ok and result.value.missing == (1,) and judge.stats.reasks == 1
    always_bogus = ScriptedBackend(script(bogus))
    judge = Judge(always_bogus, config=JudgeConfig(max_reasks=2))
    failed = asyncio.run(judge.ask(task()))
    assert not failed.ok and always_bogus.calls == 3
    assert "not in the list of 2" in failed.error


def test_pinned_sampling_reaches_the_backend_and_the_cache_key():
    backend = ScriptedBackend(script(GOOD))
    judge = Judge(backend, config=JudgeConfig(temperature=None))
    plain, seeded = task(), task().with_sampling(seed=2025, top_p=0.1, unused=None)
    assert seeded.sampling == (("seed", 2025), ("top_p", 0.1)) and seeded.input_hash != plain.input_hash
    assert task().input_hash == plain.input_hash  # tasks without sampling keep their old hashes
    asyncio.run(judge.ask(seeded))
    asyncio.run(judge.ask(plain))
    assert backend.sampling[0] == {"temperature": None, "max_tokens": None, "seed": 2025, "top_p": 0.1}
    assert backend.sampling[1] == {"temperature": None, "max_tokens": None}
    assert judge.key(seeded, 0) != judge.key(plain, 0)


def test_transport_failures_are_marked_apart_from_unusable_answers():
    down = Judge(ScriptedBackend(script(TransientJudgeError("HTTP 503"))),
                 config=JudgeConfig(retry=RetryPolicy(max_attempts=1)), sleep=RecordingSleep())
    assert asyncio.run(down.ask(task())).transport
    garbage = Judge(ScriptedBackend(script("nonsense")), config=JudgeConfig(max_reasks=0))
    result = asyncio.run(garbage.ask(task()))
    assert not result.ok and not result.transport
