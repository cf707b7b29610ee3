"""Run judge tasks: cache first, then the backend with a concurrency limit, retries and re-asks.

``Judge.ask`` never raises for a failed judgment: it returns a ``Judgment`` whose ``error``
is the one-line cause, so the caller records the item as failed instead of dropping it
(the official video-SALMONN 2 script silently drops such items).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from avcap.errors import JudgeError
from avcap.judge.cache import CacheEntry, JudgeCache, cache_key
from avcap.judge.jsonrepair import repair_json
from avcap.judge.retry import RetryPolicy, backoff_delay
from avcap.judge.tasks import JudgeTask
from avcap.judge.types import AnswerError, ChatBackend, ChatReply, TransientJudgeError, one_line

T = TypeVar("T")
log = logging.getLogger("avcap.judge")

REASK = (
    "Your reply could not be used: {cause}. Reply again with only the JSON object, in exactly the "
    "format requested above."
)


@dataclass
class JudgeConfig:
    """How judge calls are made."""

    concurrency: int = 16  # backend calls in flight at once
    temperature: float | None = 0.0  # the paper's protocol judges at temperature 0; None = the server's default
    max_tokens: int | None = None  # per answer; None leaves it to the server
    max_reasks: int = 2  # extra questions after a malformed answer, before the item fails
    json_mode: bool = True  # ask the server for a JSON object (OpenAI "response_format")
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if self.max_reasks < 0:
            raise ValueError("max_reasks must be >= 0")


@dataclass(frozen=True)
class Judgment(Generic[T]):
    """The outcome of one task: ``value`` on success, else ``error`` (one line)."""

    value: T | None
    error: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    key: str = ""
    # The failure was the transport's or the cache's (the backend gave up after its retries, or
    # refused the request), not an unusable answer: asking the same question again will not help.
    transport: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class JudgeStats:
    """What this process did (not part of a report: a re-run does different work)."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    reasks: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Judge:
    """Ask tasks of one backend, through an optional cache."""

    def __init__(
        self,
        backend: ChatBackend,
        cache: JudgeCache | None = None,
        config: JudgeConfig | None = None,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ):
        self.backend = backend
        self.cache = cache
        self.config = config or JudgeConfig()
        self.stats = JudgeStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        # One writer thread: SQLite commits leave the event loop free (sqlite3 releases the GIL
        # while it writes), and a single writer never contends with itself for the file lock.
        self._writer: ThreadPoolExecutor | None = None

    def key(self, task: JudgeTask, run_index: int) -> str:
        # Temperature and the token limit change the answer, so they are part of the input.
        t = "server" if self.config.temperature is None else f"{self.config.temperature:g}"
        input_hash = f"{task.input_hash}:t={t}:m={self.config.max_tokens}"
        return cache_key(self.backend.name, self.backend.model, task.prompt.key, input_hash, run_index)

    async def ask(self, task: JudgeTask[T], run_index: int = 0) -> Judgment[T]:
        """Judge ``task`` once (run ``run_index`` of the N-run protocol)."""
        if run_index < 0:
            raise ValueError("run_index must be >= 0")
        key = self.key(task, run_index)
        pending = self._inflight.get(key)
        if pending is not None:  # the same question is already being asked (shared references)
            return await asyncio.shield(pending)
        future = asyncio.ensure_future(self._ask(task, run_index, key))
        self._inflight[key] = future
        future.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(future)

    async def _ask(self, task: JudgeTask[T], run_index: int, key: str) -> Judgment[T]:
        if self.cache is not None:
            try:
                hit = self.cache.get(key)
            except JudgeError as err:
                return self._failed(task, key, str(err), 0, 0, transport=True)
            if hit is not None:
                try:
                    value = task.parse(hit.answer_json)
                except AnswerError as err:  # stored by an older parser; judge again
                    log.warning("cached answer for %s no longer parses (%s); asking again", task.item, err)
                else:
                    self.stats.cache_hits += 1
                    return Judgment(value, None, hit.prompt_tokens, hit.completion_tokens, True, key)
        messages = list(task.messages)
        prompt_tokens = completion_tokens = 0
        cause = ""
        for ask_number in range(self.config.max_reasks + 1):
            if ask_number:
                self.stats.reasks += 1
            try:
                reply = await self._call(messages, task)
            except JudgeError as err:
                return self._failed(task, key, str(err), prompt_tokens, completion_tokens, transport=True)
            except Exception as err:  # a backend bug must cost one item, not the whole run
                cause = f"{type(err).__name__}: {err}"
                return self._failed(task, key, cause, prompt_tokens, completion_tokens)
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            try:
                data = repair_json(reply.text)
                value = task.parse(data)
            except AnswerError as err:
                cause = one_line(str(err), 200)
                log.debug("malformed answer for %s (%s): %s", task.item, task.kind, cause)
                messages = [*messages, {"role": "assistant", "content": reply.text},
                            {"role": "user", "content": REASK.format(cause=cause)}]
                continue
            except Exception as err:  # a parser bug is not the judge's fault: fail the item, say why
                return self._failed(task, key, f"cannot parse the answer ({type(err).__name__}: {err})",
                                    prompt_tokens, completion_tokens)
            if self.cache is not None:
                try:
                    await self._store(key, task, run_index, CacheEntry(reply.text, data, prompt_tokens, completion_tokens))
                except JudgeError as err:
                    return self._failed(task, key, str(err), prompt_tokens, completion_tokens, transport=True)
            return Judgment(value, None, prompt_tokens, completion_tokens, False, key)
        tries = self.config.max_reasks + 1
        return self._failed(task, key, f"malformed answer after {tries} tries: {cause}", prompt_tokens, completion_tokens)

    async def _store(self, key: str, task: JudgeTask, run_index: int, entry: CacheEntry) -> None:
        """Commit one judgment before it is returned, so nothing reported is ever uncached."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge-cache")
        await asyncio.get_running_loop().run_in_executor(self._writer, lambda: self.cache.put(
            key, backend=self.backend.name, model=self.backend.model, prompt_version=task.prompt.key,
            input_hash=task.input_hash, run_index=run_index, entry=entry,
        ))

    def _failed(self, task: JudgeTask, key: str, cause: str, prompt_tokens: int, completion_tokens: int,
                transport: bool = False) -> Judgment:
        self.stats.failures += 1
        return Judgment(None, one_line(f"{task.kind}: {cause}"), prompt_tokens, completion_tokens, False, key, transport)

    async def _call(self, messages: list, task: JudgeTask) -> ChatReply:
        """One answer from the backend, retrying transient faults with backoff."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:  # one Judge may serve several asyncio.run calls
            self._semaphore, self._semaphore_loop = asyncio.Semaphore(self.config.concurrency), loop
        policy = self.config.retry
        for attempt in range(1, policy.max_attempts + 1):
            async with self._semaphore:  # held only while calling, not while backing off
                self.stats.calls += 1
                try:
                    reply = await self.backend.chat(
                        messages, temperature=self.config.temperature, max_tokens=self.config.max_tokens,
                        response_format_json=self.config.json_mode, **dict(task.sampling),
                    )
                except TransientJudgeError as err:
                    error = err
                else:
                    self.stats.prompt_tokens += reply.prompt_tokens
                    self.stats.completion_tokens += reply.completion_tokens
                    return reply
            if attempt == policy.max_attempts:
                break
            delay = backoff_delay(policy, attempt, error.retry_after_s, self._rng)
            self.stats.retries += 1
            log.debug("retrying %s for %s in %.2fs (attempt %d/%d): %s",
                      task.kind, task.item, delay, attempt + 1, policy.max_attempts, error)
            await self._sleep(delay)
        raise JudgeError(f"gave up after {policy.max_attempts} attempts: {error}")

    async def aclose(self) -> None:
        close = getattr(self.backend, "aclose", None)
        if close is not None:
            await close()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
