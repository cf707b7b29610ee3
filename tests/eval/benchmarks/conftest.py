"""Benchmark files written in each release's own format, and a fake OpenAI-compatible judge on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from avcap.eval.benchmarks import Overrides, get_benchmark
from avcap.eval.benchmarks.runner import BenchJob
from avcap.judge import BackendOptions, RetryPolicy
from avcap.judge import prompts as P
from avcap.judge.testing import FakeOpenAIServer

_SECTION = re.compile(r"<(?P<tag>[a-z]+)>\n(?P<body>.*?)\n</(?P=tag)>", re.DOTALL)
FAST = RetryPolicy(max_attempts=2, base_delay_s=0.001, max_delay_s=0.01, jitter=0.0)


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=1))
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def sections(messages) -> dict[str, str]:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}


def numbered(body: str) -> list[str]:
    return [re.sub(r"^\d+\.\s*", "", line) for line in body.splitlines() if line.strip()]


def by_prompt(**handlers):
    """A fake judge: ``handlers[prompt name with '_' for '.'](sections, body) -> JSON-able or raw text``."""

    def respond(messages, body):
        spec = P.identify(messages)
        name = spec.name.replace(".", "_") if spec else "official"
        handler = handlers.get(name)
        if handler is None:
            raise AssertionError(f"unexpected judge prompt {name}")
        out = handler(sections(messages) if spec else {"text": messages[-1]["content"]}, body)
        return out if isinstance(out, str) else json.dumps(out)

    return respond


@pytest.fixture
def judge_server():
    started: list[FakeOpenAIServer] = []

    def make(responder) -> FakeOpenAIServer:
        server = FakeOpenAIServer(responder, pass_body=True).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def make_job(name: str, data: Path, captions: list[Path], out: Path, server: FakeOpenAIServer | None = None,
             overrides: Overrides | None = None, **kw) -> BenchJob:
    spec, deviations = (overrides or Overrides()).apply(get_benchmark(name))
    backend = BackendOptions(model=spec.judge.model, base_url=server.base_url if server else None)
    kw.setdefault("n_boot", 200)
    return BenchJob(spec=spec, data=data, captions=captions, out=out, deviations=deviations,
                    judge="openai" if server else "scripted", backend=backend, retry=FAST, concurrency=8, **kw)
