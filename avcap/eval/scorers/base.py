"""What every scorer gets for one item, and the shape of what it returns.

A scorer module has ``NAME``, ``ITEMS`` ("captioning": rows with a reference or events;
"qa": multiple-choice questions; "any": every captioned item), ``JUDGED`` (whether it calls
the judge), ``async score(ctx) -> record`` and ``aggregate(records, ctx_params) -> dict``.
A record is a JSON-able dict with ``status`` "ok" or "failed" (+ ``error``, one line); the
report is built from records only, so it is a pure function of captions and judgments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from avcap.data import DatasetRow
from avcap.eval.loaders import QAItem
from avcap.judge import Judge, Judgment
from avcap.judge.tasks import JudgeTask


class ItemFailed(Exception):
    """Raised inside a scorer to record the item as failed with this one-line cause."""


@dataclass
class ItemContext:
    item_id: str
    caption: str
    row: DatasetRow | None
    qa: QAItem | None
    judge: Judge | None
    runs: int
    dialogue_threshold: float
    on_judgment: Callable[[Judgment], None]

    async def ask(self, task: JudgeTask, run_index: int = 0, what: str | None = None) -> Any:
        """The typed answer, or ``ItemFailed`` naming the step and the judge's cause."""
        if self.judge is None:
            raise ItemFailed("this metric needs a judge")
        judgment = await self.judge.ask(task, run_index)
        self.on_judgment(judgment)
        if not judgment.ok:
            raise ItemFailed(f"{what + ': ' if what else ''}{judgment.error}")
        return judgment.value

    @property
    def reference(self) -> str:
        if self.row is None or not self.row.reference:
            raise ItemFailed("the item has no reference caption")
        return self.row.reference


def failed(cause: str) -> dict:
    return {"status": "failed", "error": " ".join(str(cause).split())}


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
