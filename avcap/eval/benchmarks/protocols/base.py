"""What every protocol executor shares: asking under the benchmark's retry rule, and its records.

A protocol module has ``score(ctx, item, caption, run) -> record`` (one item, one judge run;
never raises), ``arrays(records, items, spec) -> Table`` (the records as numbers) and
``compute(table, run, idx) -> metrics`` (one run's metrics over item positions ``idx``,
the benchmark's failure rule applied), plus ``breakdown`` for the report's subsets and
``plan`` for ``--dry-run``. The runner owns runs, median selection and the bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from avcap.eval.benchmarks.spec import BenchmarkSpec
from avcap.judge import Judge, Judgment
from avcap.judge.tasks import JudgeTask


@dataclass
class Attempt:
    """The outcome of one question under the protocol's retry rule."""

    value: Any | None
    error: str | None
    attempts: int  # judge questions asked (cached ones included)
    seeds: list[int | None]
    fallback: bool = False  # the answer came from the fallback prompt
    transport: bool = False  # it failed because the judge could not be reached, not on its answers

    def log(self) -> dict:
        out = {"attempts": self.attempts, "seeds": self.seeds, "fallback": self.fallback}
        if self.transport:
            out["transport"] = True
        return out


@dataclass
class Context:
    spec: BenchmarkSpec
    judge: Judge
    note: Callable[[Judgment], None]  # every judgment used (report tokens)
    official: Any = None  # OfficialPrompts when the protocol file was read
    variant: str | None = None
    # Questions whose answer was unusable, by cache key -> cause (OUT/failed_answers.jsonl): a
    # re-run does not ask them again, so it makes the same calls and the same report. The
    # cache keeps only usable answers; failures of the transport are never recorded here.
    failed: Any = None

    async def ask(self, make: Callable[[], JudgeTask], run: int, *, retries: int | None = None,
                  fallback: Callable[[], JudgeTask] | None = None) -> Attempt:
        """Ask ``make()``; after an unusable answer ask again (a fresh question, the next seed),
        up to ``retries`` more times, then once with ``fallback()`` if given.

        Seeds follow ``JudgeDefaults.seed_for(run, attempt)``. A failure of the transport (the
        engine already retried 429/5xx/timeouts and gave up) is not retried here: the same
        request would meet the same server.
        """
        judge_defaults = self.spec.judge
        retries = self.spec.retries if retries is None else retries
        builders = [make] * (retries + 1) + ([fallback] if fallback is not None else [])
        seeds: list[int | None] = []
        error = "not asked"
        for attempt, build in enumerate(builders):
            seed = judge_defaults.seed_for(run, attempt)
            seeds.append(seed)
            task = build().with_sampling(seed=seed, top_p=judge_defaults.top_p)
            # Attempt-qualified: without a seed, attempt 2 is the same request as attempt 1 and
            # only the server's sampling makes it another question; it must still be asked.
            key = f"{self.judge.key(task, run)}#{attempt}"
            if self.failed is not None and key in self.failed.done:
                error = self.failed.rows[key].get("error") or "failed"
                continue
            judgment = await self.judge.ask(task, run)
            self.note(judgment)
            if judgment.ok:
                return Attempt(judgment.value, None, attempt + 1, seeds, build is fallback and fallback is not None)
            error = judgment.error or "failed"
            if judgment.transport:
                return Attempt(None, error, len(seeds), seeds, transport=True)
            if self.failed is not None and key not in self.failed.done:
                self.failed.append({"key": key, "item": task.item, "run": run, "seed": seed, "error": error})
        return Attempt(None, error, len(seeds), seeds)


@dataclass
class Table:
    """A caption set's records as arrays: ``[runs, items]`` values and masks, plus per-item data."""

    values: dict[str, np.ndarray]
    ok: np.ndarray  # [runs, items] judged successfully
    usable: np.ndarray  # [items] has a caption to judge (else excluded and listed)
    extra: dict[str, Any] = field(default_factory=dict)


def caption_failed(cause: str) -> dict:
    return {"status": "caption_failed", "error": " ".join(str(cause).split())}


def judge_failed(attempt: Attempt, what: str = "") -> dict:
    return {"status": "failed", "error": (what + ": " if what else "") + (attempt.error or "failed"), **attempt.log()}


def safe_mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
