"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted answers and injected faults.

Tests, ``benchmarks/judge.py`` and the CLI tests point the ``openai`` backend at it. It
speaks ``POST /v1/chat/completions``; answers come from a responder function of the
messages (the heuristic judge by default). Faults are chosen per conversation (system +
first user message) from a seeded generator and at most ``max_per_prompt`` times each, so
every question is answered in the end and a faulty run must reach the same metrics as a
clean one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "503", "stall", "drop", "truncated_body", "malformed_answer", "fenced_answer")


@dataclass
class FaultPlan:
    rate: float = 0.0  # chance that a request is answered with a fault
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    max_per_prompt: int = 2  # faults per conversation at most; later requests succeed
    retry_after_s: float = 0.0  # sent with 429 in the Retry-After header
    stall_s: float = 1.0  # a stalled answer comes this late (set it past the client's timeout)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError("rate must be in [0, 1]")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")


def _add_trailing_comma(text: str) -> str:
    text = text.rstrip()
    return text[:-1] + ",}" if text.endswith("}") else text


class FakeOpenAIServer:
    """``with FakeOpenAIServer(latency_s=0.1) as server: ... server.base_url ...``"""

    def __init__(
        self,
        responder: Callable[[list[dict]], str] | None = None,
        *,
        latency_s: float = 0.0,
        faults: FaultPlan | None = None,
        api_key: str | None = None,
        pass_body: bool = False,
    ):
        if responder is None:
            from avcap.judge.heuristic import answer as responder
        self.responder = responder
        self.pass_body = pass_body  # call responder(messages, body): it sees seed, top_p, temperature
        self.bodies: list[dict] = []  # every well-formed request body, in arrival order
        self.latency_s = latency_s
        self.faults = faults or FaultPlan()
        self.api_key = api_key
        self.requests = 0  # HTTP requests received
        self.request_times: list[float] = []  # time.monotonic() at each request's arrival
        self.answered = 0  # requests answered with a usable completion
        self.fault_counts: Counter[str] = Counter()
        self.last_authorization: str | None = None
        self._per_prompt: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def _pick_fault(self, messages: list[dict]) -> str | None:
        plan = self.faults
        if plan.rate <= 0:
            return None
        root = hashlib.sha256(json.dumps(messages[:2], sort_keys=True).encode()).hexdigest()
        n = self._per_prompt[root]
        self._per_prompt[root] = n + 1
        if n >= plan.max_per_prompt:
            return None
        rng = random.Random(f"{plan.seed}:{root}:{n}")
        return rng.choice(plan.kinds) if rng.random() < plan.rate else None

    async def _handle(self, request):
        from aiohttp import web

        self.requests += 1
        self.request_times.append(time.monotonic())
        self.last_authorization = request.headers.get("Authorization")
        if self.api_key is not None and self.last_authorization != f"Bearer {self.api_key}":
            sent = (self.last_authorization or "").removeprefix("Bearer ")
            # Like api.openai.com, echo what was sent: the client must scrub it from its errors.
            return web.json_response({"error": {"message": f"Incorrect API key provided: {sent}"}}, status=401)
        try:
            body = await request.json()
            messages = body["messages"]
        except (ValueError, KeyError):
            return web.json_response({"error": {"message": "bad request"}}, status=400)
        self.bodies.append(body)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._pick_fault(messages)
        if fault:
            self.fault_counts[fault] += 1
        if fault in ("429", "500", "503"):
            headers = {"Retry-After": f"{self.faults.retry_after_s:g}"} if fault == "429" else {}
            return web.json_response({"error": {"message": f"injected {fault}"}}, status=int(fault), headers=headers)
        if fault == "drop":
            request.transport.close()
            return web.Response(status=500)
        if fault == "stall":
            await asyncio.sleep(self.faults.stall_s)
        try:
            content = self.responder(messages, body) if self.pass_body else self.responder(messages)
        except Exception as err:  # a responder bug shows up as a 500 with its message
            return web.json_response({"error": {"message": f"responder failed: {err}"}}, status=500)
        if fault == "malformed_answer":
            content = content[: len(content) // 2]
        elif fault == "fenced_answer":
            content = f"Here is my judgment:\n```json\n{_add_trailing_comma(content)}\n```\nHope this helps."
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        envelope = {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_tokens + len(content.split())},
        }
        raw = json.dumps(envelope).encode()
        if fault == "truncated_body":
            return web.Response(body=raw[: len(raw) // 2], content_type="application/json")
        if fault is None or fault in ("stall", "fenced_answer"):
            self.answered += 1
        return web.Response(body=raw, content_type="application/json")

    def start(self) -> FakeOpenAIServer:
        from aiohttp import web

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            app.router.add_post("/chat/completions", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.SockSite(self._runner, sock, shutdown_timeout=0.2).start()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(serve())
            except BaseException as err:  # surfaced to the starting thread below
                failure.append(err)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            # Stalled handlers may still be sleeping; cancel them so the loop closes cleanly.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m avcap.judge.testing [--latency S] [--fault-rate P]``: serve until killed.

    Prints the base URL on the first line of stdout, e.g. for
    ``avcap eval --judge openai --judge-model any --judge-base-url URL ...``.
    """
    import argparse

    parser = argparse.ArgumentParser(description="A local OpenAI-compatible judge server (heuristic answers).")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retry-after", type=float, default=0.0, help="Retry-After seconds sent with 429")
    parser.add_argument("--stall", type=float, default=1.0, help="seconds a stalled answer takes")
    args = parser.parse_args(argv)
    plan = FaultPlan(rate=args.fault_rate, seed=args.seed, retry_after_s=args.retry_after, stall_s=args.stall)
    server = FakeOpenAIServer(latency_s=args.latency, faults=plan).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
