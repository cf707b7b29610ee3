"""The one call signature every judge backend shares, and the errors a call can end in.

Tests swap a scripted backend in for a real one, so the evaluation code never knows
which kind of judge answers it (STYLE.md, convention 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from avcap.errors import JudgeError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True)
class ChatReply:
    """One answer from a backend; token counts are 0 when the backend does not report them."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class ChatBackend(Protocol):
    """A chat model that answers a list of messages.

    ``name`` and ``model`` go into the cache key. ``chat`` raises ``TransientJudgeError``
    for faults worth retrying (429, 5xx, timeouts, dropped connections) and
    ``JudgeError`` for ones that are not (bad request, unknown model, no key).
    """

    name: str
    model: str

    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        response_format_json: bool = True,
    ) -> ChatReply: ...

    # A task that pins sampling (``JudgeTask.sampling``: ``seed``, ``top_p``) passes those as
    # further keyword arguments; avcap's backends accept them, and tasks without them pass none.


class TransientJudgeError(JudgeError):
    """A call failed in a way a retry may fix; ``retry_after_s`` is the server's hint, if any."""

    def __init__(self, cause: str, retry_after_s: float | None = None):
        self.retry_after_s = retry_after_s
        super().__init__(cause)


class AnswerError(ValueError):
    """The judge's answer is not the JSON shape the task asked for (triggers a re-ask)."""


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so a cause fits on one line of a report."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
