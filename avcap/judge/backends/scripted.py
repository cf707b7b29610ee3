"""A backend whose answers come from a Python function: for tests and offline demos.

The default responder is ``avcap.judge.heuristic.answer`` (deterministic word overlap). A
responder may return text, a ``ChatReply``, or raise (``TransientJudgeError`` to exercise
retries); ``calls`` counts every call so tests can assert "a re-run makes zero calls".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from avcap.judge.registry import BackendOptions
from avcap.judge.types import ChatReply, Message

Responder = Callable[[list[Message]], "str | ChatReply"]


class ScriptedBackend:
    name = "scripted"

    def __init__(self, responder: Responder | None = None, *, model: str = "heuristic-v1", latency_s: float = 0.0):
        if responder is None:
            from avcap.judge.heuristic import answer as responder
        self.responder = responder
        self.model = model
        self.latency_s = latency_s
        self.calls = 0
        self.requests: list[list[Message]] = []
        self.sampling: list[dict] = []  # per call: temperature, max_tokens and any pinned seed / top_p

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        response_format_json: bool = True,
        **sampling,
    ) -> ChatReply:
        self.calls += 1
        self.requests.append(list(messages))
        self.sampling.append({"temperature": temperature, "max_tokens": max_tokens, **sampling})
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        out = self.responder(list(messages))
        if isinstance(out, ChatReply):
            return out
        prompt_words = sum(len(m.get("content", "").split()) for m in messages)
        return ChatReply(str(out), prompt_tokens=prompt_words, completion_tokens=len(str(out).split()))


def from_options(options: BackendOptions) -> ScriptedBackend:
    # ``--judge-model`` only names the run (it goes into the cache key); answers are heuristic.
    return ScriptedBackend(model=options.model or "heuristic-v1")
