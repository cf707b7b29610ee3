"""Atomic-event error rates of video-SALMONN 2 (Sec. 3.3.1 and Appendix F).

A judge compares a caption with the ground-truth atomic events and counts three kinds of
error (Appendix F):

1. *missing* events — ground-truth events absent from the caption;
2. *incorrect* events — ground-truth events the caption describes wrongly;
3. *hallucination* events — events in the caption absent from the ground-truth list.

"The quotient between the number of missing events and the number of all atomic events
is the missing rate, and the quotient between the number of incorrect and hallucination
events and the number of all atomic events is the hallucination rate. The total error rate
is the sum of the missing and hallucination rates." All rates here are fractions
(0.229, not 22.9 %).

Benchmark protocol (the official evaluation script): the judge runs N = 7 times at
temperature 0; in each run the counts are pooled over the whole test set
(Σmissing / Σevents, ...) and the run whose total is the median is reported. So
:func:`pooled_error_rates` is the benchmark number, :func:`item_error_rates` is the
per-caption number used to rank DPO samples, and :func:`median_run` picks the run.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from avcap.metrics._checks import MetricInputError, require_count, require_real

RATE_KEYS = ("miss", "hall", "total")


@dataclass(frozen=True)
class EventCounts:
    """What the judge counted for one caption.

    ``n_events`` is the number of ground-truth atomic events. Missing and incorrect events
    are both ground-truth events, so together they cannot exceed ``n_events``;
    hallucinated events come from the caption and are unbounded. ``n_events == 0`` is
    accepted here (such a row still adds its hallucinations to a pooled sum) but has no
    per-item rate, see :func:`item_error_rates`.
    """

    n_events: int
    n_missing: int
    n_incorrect: int
    n_hallucinated: int

    def __post_init__(self) -> None:
        for name in ("n_events", "n_missing", "n_incorrect", "n_hallucinated"):
            object.__setattr__(self, name, require_count(name, getattr(self, name)))
        if self.n_missing + self.n_incorrect > self.n_events:
            raise MetricInputError(
                f"EventCounts: n_missing + n_incorrect = {self.n_missing + self.n_incorrect} "
                f"exceeds n_events = {self.n_events} (both are ground-truth events)"
            )


def _rates(n_events: int, n_missing: int, n_wrong: int) -> dict[str, float]:
    miss = n_missing / n_events
    hall = n_wrong / n_events
    return {"miss": miss, "hall": hall, "total": miss + hall}


def item_error_rates(counts: EventCounts) -> dict[str, float]:
    """Missing, hallucination and total error rate of one caption (fractions).

    ``miss = n_missing / n_events``, ``hall = (n_incorrect + n_hallucinated) / n_events``,
    ``total = miss + hall`` (Appendix F). ``hall`` and ``total`` can exceed 1 when a caption
    hallucinates more events than the ground truth has.

    An item with ``n_events == 0`` has no rate (division by zero): this raises
    :class:`MetricInputError` rather than returning NaN, because a NaN would silently
    poison any mean or comparison (e.g. DPO pair selection) it flows into.

    >>> item_error_rates(EventCounts(n_events=10, n_missing=2, n_incorrect=1, n_hallucinated=1))
    {'miss': 0.2, 'hall': 0.2, 'total': 0.4}
    """
    if not isinstance(counts, EventCounts):
        raise MetricInputError(f"item_error_rates: expected EventCounts, got {type(counts).__name__}")
    if counts.n_events == 0:
        raise MetricInputError("item_error_rates: the item has no ground-truth events, so no error rate")
    return _rates(counts.n_events, counts.n_missing, counts.n_incorrect + counts.n_hallucinated)


def pooled_error_rates(items: Sequence[EventCounts]) -> dict[str, float | int]:
    """Error rates pooled over a test set: Σmissing / Σevents, Σ(incorrect + hallucinated) / Σevents.

    This micro-average is the official protocol (each event weighs the same; a video with
    60 events counts six times one with 10). Items with ``n_events == 0`` take part in
    the sums like any other (they can only add hallucinations). Also returns the raw sums
    so a report can show them.

    >>> r = pooled_error_rates([EventCounts(10, 1, 0, 1), EventCounts(30, 3, 2, 0)])
    >>> r["miss"], r["hall"], r["n_events"]
    (0.1, 0.075, 40)
    """
    items = list(items)
    for index, item in enumerate(items):
        if not isinstance(item, EventCounts):
            raise MetricInputError(
                f"pooled_error_rates: item {index} is {type(item).__name__}, not EventCounts"
            )
    n_events = sum(item.n_events for item in items)
    if n_events == 0:
        raise MetricInputError(f"pooled_error_rates: the {len(items)} items hold no ground-truth events")
    n_missing = sum(item.n_missing for item in items)
    n_incorrect = sum(item.n_incorrect for item in items)
    n_hallucinated = sum(item.n_hallucinated for item in items)
    rates: dict[str, float | int] = dict(_rates(n_events, n_missing, n_incorrect + n_hallucinated))
    rates.update(
        n_items=len(items),
        n_events=n_events,
        n_missing=n_missing,
        n_incorrect=n_incorrect,
        n_hallucinated=n_hallucinated,
    )
    return rates


def _run_totals(run_rates: Sequence[Mapping[str, float]]) -> list[float]:
    if len(run_rates) == 0:
        raise MetricInputError("median_run: no runs given")
    totals = []
    for index, run in enumerate(run_rates):
        if not isinstance(run, Mapping) or "total" not in run:
            raise MetricInputError(f"median_run: run {index} has no 'total' rate")
        totals.append(require_real(f"run {index} total", run["total"]))
    return totals


def median_run(run_rates: Sequence[Mapping[str, float]]) -> int:
    """Index of the judge run whose pooled total error rate is the median.

    Runs are ordered by ``(total, run index)`` and the run at position ``(n - 1) // 2`` is
    returned: the exact median for an odd count (the protocol uses 7 runs), the *lower*
    median for an even count (a real run is reported, never an average of two), and among
    runs with equal totals the order of the runs decides.

    >>> median_run([{"total": 0.30}, {"total": 0.10}, {"total": 0.20}])
    2
    >>> median_run([{"total": 0.4}, {"total": 0.1}, {"total": 0.3}, {"total": 0.2}])
    3
    """
    totals = _run_totals(run_rates)
    order = sorted(range(len(totals)), key=lambda i: (totals[i], i))
    return order[(len(order) - 1) // 2]


def run_summary(run_rates: Sequence[Mapping[str, float]]) -> dict:
    """The median run plus the spread over runs, for a report.

    Returns ``{"median": <the median run's rates>, "median_index": i, "mean": {miss, hall,
    total}, "std": {...}, "n_runs": n, "runs": [...]}``. ``std`` is the sample standard
    deviation (n - 1 in the denominator: the runs are samples of judge noise); with a
    single run it is 0.0. Each run must carry ``miss``, ``hall`` and ``total``.
    """
    index = median_run(run_rates)
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for key in RATE_KEYS:
        values = []
        for run_index, run in enumerate(run_rates):
            if key not in run:
                raise MetricInputError(f"run_summary: run {run_index} has no {key!r} rate")
            values.append(require_real(f"run {run_index} {key}", run[key]))
        mean[key] = statistics.fmean(values)
        std[key] = statistics.stdev(values) if len(values) > 1 else 0.0
    return {
        "median": dict(run_rates[index]),
        "median_index": index,
        "mean": mean,
        "std": std,
        "n_runs": len(run_rates),
        "runs": [dict(run) for run in run_rates],
    }
