"""What a benchmark *is*, as data: its file format, metric, judge and sampling, runs, rules.

Each benchmark is one small declarative module in ``avcap/eval/benchmarks/defs/`` holding a
``SPEC = BenchmarkSpec(...)``; the harness (``runner.py``) and the protocol executors
(``protocols/``) read nothing else. ``sources`` says where every pinned detail comes from
(paper section, official script, REFERENCE.md), and ``avcap bench show NAME`` prints it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from avcap.errors import ConfigError

Protocol = Literal["events", "autodq", "qa", "ugc", "vdc"]
Aggregation = Literal["median_run", "single_run"]


@dataclass(frozen=True)
class JudgeDefaults:
    """The judge and sampling the benchmark's official scoring uses.

    ``temperature``/``top_p``/``seed`` ``None`` mean the official script leaves them to the
    server's default, and so does avcap. Seeds: attempt ``a`` of run ``k`` is sent
    ``seed + k * seed_per_run + a * seed_per_retry`` (the fallback prompt is the attempt after
    the last retry).
    """

    model: str
    temperature: float | None = 0.0
    top_p: float | None = None
    seed: int | None = None
    seed_per_run: int = 0
    seed_per_retry: int = 0
    max_tokens: int | None = None

    def seed_for(self, run: int, attempt: int) -> int | None:
        if self.seed is None:
            return None
        return self.seed + run * self.seed_per_run + attempt * self.seed_per_retry


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str  # what `avcap bench run NAME` takes
    title: str
    protocol: Protocol  # which executor in avcap/eval/benchmarks/protocols scores it
    data_format: str  # loader in avcap/eval/benchmarks/formats.py
    data_hint: str  # which file(s) of the release --data points at
    hub_id: str  # where users download it (Hugging Face dataset id)
    metric: str  # the headline number, in words
    headline: str  # key of the headline metric in a run's metrics
    lower_is_better: bool
    judge: JudgeDefaults
    runs: int = 1
    aggregation: Aggregation = "single_run"  # median_run: the run with the median headline is reported
    failure_rule: str = ""  # what a judge failure does to the score (protocol-specific keyword)
    retries: int = 0  # further attempts after a failed one (a fresh question each time)
    fallback_prompt: bool = False  # after the retries, one more attempt with a simpler prompt
    collapse_repeats: bool = False  # collapse repeated text of captions that did not end cleanly
    lowercase: bool = False  # the official scorer lower-cases caption and reference before judging
    answer_match: str = ""  # QA: "exact" (official: stripped, case-insensitive equality) or "lenient"
    options: tuple[tuple[str, str], ...] = ()  # protocol-specific named variants: (name, what it does)
    variant_of: str | None = None
    paper: str = ""
    sources: tuple[tuple[str, str], ...] = ()  # (pinned detail, where it comes from)
    notes: tuple[str, ...] = ()
    strata_field: str | None = None  # bootstrap within these strata (DREAM-1K: the source)

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise ConfigError(f"{self.name}: runs must be >= 1")
        if self.retries < 0:
            raise ConfigError(f"{self.name}: retries must be >= 0")
        if self.aggregation == "median_run" and self.runs < 1:
            raise ConfigError(f"{self.name}: the median-run rule needs runs")

    def describe(self) -> dict:
        """Everything pinned, JSON-able (report.json's ``benchmark`` section)."""
        out = asdict(self)
        out["sources"] = [{"detail": d, "source": s} for d, s in self.sources]
        out["options"] = [{"name": n, "effect": e} for n, e in self.options]
        return out


@dataclass
class Overrides:
    """What a user changed from the protocol; each one is listed in the report as a deviation."""

    judge_model: str | None = None
    temperature: float | None = None
    temperature_set: bool = False  # temperature may be overridden *to* None (the server default)
    top_p: float | None = None
    seed: int | None = None
    no_seed: bool = False  # send no seed (a server that rejects the field)
    runs: int | None = None
    retries: int | None = None
    no_fallback: bool = False
    variant: str | None = None  # one of spec.options
    extra: dict = field(default_factory=dict)

    def apply(self, spec: BenchmarkSpec) -> tuple[BenchmarkSpec, list[str]]:
        from dataclasses import replace

        judge, deviations = spec.judge, []
        asked = {
            "model": self.judge_model or judge.model,
            "temperature": self.temperature if self.temperature_set else judge.temperature,
            "top_p": self.top_p if self.top_p is not None else judge.top_p,
            "seed": None if self.no_seed else self.seed if self.seed is not None else judge.seed,
        }
        for key, value in asked.items():
            if value != getattr(judge, key):
                deviations.append(f"judge {key.replace('_', '-')} {value} (protocol: {getattr(spec.judge, key)})")
        judge = replace(judge, **asked)
        changes: dict = {"judge": judge}
        if self.runs is not None and self.runs != spec.runs:
            if self.runs < 1:
                raise ConfigError("--runs must be >= 1")
            changes["runs"] = self.runs
            deviations.append(f"{self.runs} judge runs (protocol: {spec.runs})")
        if self.retries is not None and self.retries != spec.retries:
            if self.retries < 0:
                raise ConfigError("--retries must be >= 0")
            changes["retries"] = self.retries
            deviations.append(f"{self.retries} retries (protocol: {spec.retries})")
        if self.no_fallback and spec.fallback_prompt:
            changes["fallback_prompt"] = False
            deviations.append("no fallback prompt (protocol: fallback after the retries)")
        if self.variant:
            names = [n for n, _ in spec.options]
            if self.variant not in names:
                raise ConfigError(f"{spec.name} has no variant {self.variant!r}; it has: {', '.join(names) or 'none'}")
            deviations.append(f"variant {self.variant}")
        return replace(spec, **changes), deviations
