"""The test server itself: deterministic, bounded faults; runnable as a separate process."""

import asyncio
import json
import subprocess
import sys
import urllib.request

import pytest

from avcap.judge import TransientJudgeError, heuristic, tasks
from avcap.judge.backends.openai import OpenAIBackend
from avcap.judge.testing import FaultPlan


def chat(base_url, messages):
    async def go():
        backend = OpenAIBackend("m", base_url=base_url, timeout_s=2)
        try:
            return await backend.chat(messages)
        except TransientJudgeError as err:
            return err
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_faults_stop_after_max_per_prompt_and_are_reproducible(server_factory):
    messages = list(tasks.qa_answer("q", "A red car.", "Color?", [("A", "red"), ("B", "blue")]).messages)
    outcomes = []
    for _ in range(2):
        server = server_factory(faults=FaultPlan(rate=1.0, kinds=("500", "429"), max_per_prompt=2, seed=5))
        outcomes.append([type(chat(server.base_url, messages)).__name__ for _ in range(3)])
    assert outcomes[0] == outcomes[1] == ["TransientJudgeError", "TransientJudgeError", "ChatReply"]
    assert json.loads(chat(server.base_url, messages).text) == {"answer": "A"}


def test_fault_plan_validation():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(kinds=("500", "teapot"))
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)


def test_heuristic_abstains_when_the_caption_says_nothing():
    messages = list(tasks.qa_answer("q", "A dog runs.", "What does the singer wear?",
                                    [("A", "a red hat"), ("B", "a blue coat")]).messages)
    assert json.loads(heuristic.answer(messages)) == {"answer": "N/A"}
    assert json.loads(heuristic.answer([{"role": "user", "content": "hi"}])) == {"error": "unknown prompt"}


def test_runs_as_its_own_process():
    proc = subprocess.Popen([sys.executable, "-m", "avcap.judge.testing", "--latency", "0"], stdout=subprocess.PIPE, text=True)
    try:
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        messages = list(tasks.salmonn2_events("v", "A man sits. A dog barks.").messages)
        body = json.dumps({"model": "m", "messages": messages}).encode()
        request = urllib.request.Request(f"{base_url}/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer = json.loads(json.loads(resp.read())["choices"][0]["message"]["content"])
        assert answer == {"events": ["A man sits.", "A dog barks."]}
    finally:
        proc.terminate()
        proc.wait(10)
