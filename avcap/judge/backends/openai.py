"""OpenAI-compatible chat completions over HTTP (OpenAI, vLLM, llama.cpp server, Ollama, ...).

The API key is read from an environment variable and kept in a private attribute: it is
sent only in the Authorization header, never logged, never put in an error message or a
repr (server error bodies are scrubbed of it too, since some servers echo it back).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter

from avcap.errors import ConfigError, JudgeError
from avcap.judge.ratelimit import RateLimiter, RateLimits, estimate_tokens
from avcap.judge.registry import BackendOptions
from avcap.judge.retry import parse_retry_after
from avcap.judge.types import ChatReply, Message, TransientJudgeError, one_line

OPENAI_BASE_URL = "https://api.openai.com/v1"
_RETRY_STATUSES = {408, 409, 425, 429}  # plus every 5xx


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        limits: RateLimits | None = None,
    ):
        if not model:
            raise ConfigError("the openai judge needs a model name (--judge-model)")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.__api_key = api_key or None
        # Shared by every call this backend makes, so the limits hold across the whole run.
        self.limiter = RateLimiter(limits) if limits is not None and limits.active else None
        self._session = None
        self._session_loop = None
        # The snapshot that actually answered ("model" and "system_fingerprint" of each response):
        # a report records it, since an alias such as "gpt-4.1" moves between snapshots.
        self.served: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r}, key={'set' if self.__api_key else 'unset'})"

    def _scrub(self, text: str) -> str:
        return text.replace(self.__api_key, "***") if self.__api_key else text

    async def _get_session(self):
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            # The engine's semaphore limits concurrency; the connector must not add a second limit.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
            self._session_loop = loop
        return self._session

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        response_format_json: bool = True,
        seed: int | None = None,
        top_p: float | None = None,
    ) -> ChatReply:
        import aiohttp

        payload: dict = {"model": self.model, "messages": messages}
        if temperature is not None:  # None leaves it to the server's default (some official scripts set none)
            payload["temperature"] = temperature
        if top_p is not None:
            payload["top_p"] = top_p
        if seed is not None:
            payload["seed"] = int(seed)
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if response_format_json:
            payload["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json"}
        if self.__api_key:
            headers["Authorization"] = f"Bearer {self.__api_key}"
        url = f"{self.base_url}/chat/completions"
        if self.limiter is not None:
            await self.limiter.acquire(estimate_tokens(messages, max_tokens))
        session = await self._get_session()
        try:
            async with session.post(url, json=payload, headers=headers) as resp:
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                body = await resp.read()
        except asyncio.TimeoutError:
            raise TransientJudgeError(f"no answer from {self.base_url} within {self.timeout_s:g}s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as err:
            raise TransientJudgeError(f"connection to {self.base_url} failed ({type(err).__name__})") from None
        text = self._scrub(body[:300].decode("utf-8", "replace"))
        if status in _RETRY_STATUSES or status >= 500:
            raise TransientJudgeError(f"HTTP {status} from {self.base_url}: {one_line(text, 160)}", retry_after)
        if status >= 400:
            hint = " (is the API key right?)" if status in (401, 403) else ""
            raise JudgeError(f"HTTP {status} from {self.base_url}{hint}: {one_line(text, 200)}")
        try:
            data = json.loads(body)
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            # A cut-off or garbled response body is a transport fault: asking again is right.
            raise TransientJudgeError(f"unreadable response body from {self.base_url}: {one_line(text, 120)!r}") from None
        served = data.get("model") if isinstance(data, dict) else None
        if isinstance(served, str) and served:
            fingerprint = data.get("system_fingerprint")
            self.served[served + (f" ({fingerprint})" if isinstance(fingerprint, str) and fingerprint else "")] += 1
        usage = data.get("usage") or {}
        return ChatReply(
            text=message.get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def from_options(options: BackendOptions) -> OpenAIBackend:
    key = os.environ.get(options.api_key_env, "").strip() or None
    base_url = options.base_url or OPENAI_BASE_URL
    if key is None and base_url.rstrip("/") == OPENAI_BASE_URL:
        # A local server (vLLM, llama.cpp, Ollama) usually needs no key; api.openai.com always does.
        raise ConfigError(f"the openai judge needs an API key: set the {options.api_key_env} environment variable")
    limits = RateLimits(options.requests_per_minute, options.tokens_per_minute)
    return OpenAIBackend(options.model or "", base_url=base_url, api_key=key, timeout_s=options.timeout_s,
                         limits=limits)
