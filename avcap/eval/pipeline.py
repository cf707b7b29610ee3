"""One evaluation job end to end: load, judge (cached), write report.json, report.html, run.json.

``avcap eval`` is a thin layer over ``run_job``; benchmarks and tests call it directly.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avcap.data import atomic_write_json, atomic_write_text
from avcap.errors import ConfigError, DataError
from avcap.eval.captions import CaptionSet, load_captions
from avcap.eval.loaders import Benchmark, load_benchmark
from avcap.eval.report_html import render_html
from avcap.eval.report_json import Prices, build_report
from avcap.eval.runner import EvalConfig, check_applicable, count_units, run_eval
from avcap.judge import BackendOptions, Judge, JudgeCache, JudgeConfig, JudgeStats, create_backend
from avcap.judge.prompts import ALL_PROMPTS


@dataclass
class EvalJob:
    data: Path
    captions: list[Path]  # the first is the main file; the others are compared with it
    out: Path
    config: EvalConfig = field(default_factory=EvalConfig)
    judge: str = "openai"
    backend: BackendOptions = field(default_factory=BackendOptions)
    judge_config: JudgeConfig = field(default_factory=JudgeConfig)
    cache_path: Path | None = None  # default: OUT/judge_cache.sqlite
    prices: Prices | None = None
    sample: int = 0  # which sample index of the caption files to evaluate
    audit_filter: str | None = None  # keep items whose first caption row passes (avcap.eval.audit)
    filtered_out: int = field(default=0, init=False)  # items the filter left out (set by load_inputs)

    def __post_init__(self) -> None:
        from avcap.eval.audit import check_filter

        check_filter(self.audit_filter)
        if not self.captions:
            raise ConfigError("give at least one captions file")
        if self.sample < 0:
            raise ConfigError("sample must be >= 0")


@dataclass
class JobOutcome:
    report: dict
    report_path: Path
    html_path: Path
    stats: JudgeStats
    wall_s: float
    rate_limit_wait_s: float = 0.0


def _caption_sets(paths: list[Path], sample: int) -> list[CaptionSet]:
    sets, names = [], set()
    for path in paths:
        name = path.stem
        n = 2
        while name in names:  # two files called captions.jsonl in different folders
            name, n = f"{path.stem}#{n}", n + 1
        names.add(name)
        sets.append(load_captions(path, name=name, sample=sample))
    return sets


def load_inputs(job: EvalJob) -> tuple[Benchmark, list[CaptionSet]]:
    bench = load_benchmark(job.data)
    if not bench.rows and not bench.qa:
        first = f": {bench.errors[0]}" if bench.errors else ""
        raise DataError(f"{job.data}: no usable rows{first}")
    check_applicable(bench, job.config)
    sets = _caption_sets(job.captions, job.sample)
    for cset in sets:
        _check_shared_ids(bench, cset)
    if job.audit_filter is not None:
        from avcap.eval.audit import filter_benchmark

        bench, dropped = filter_benchmark(bench, sets[0], job.audit_filter)
        job.filtered_out = dropped
        if not bench.rows and not bench.qa:
            raise DataError(f"--audit-filter {job.audit_filter}: no item of {sets[0].path} passes "
                            f"({dropped} left out; rows without an audit pass no filter)")
    return bench, sets


def _check_shared_ids(bench: Benchmark, cset: CaptionSet) -> None:
    """A captions file that matches no item of the data is a mistake (wrong file, wrong --sample),
    not a run in which every caption "failed": say so before any judge call is made."""
    units = [(r.id, r.video) for r in bench.rows] or [(q.video_key, q.video_key) for q in bench.qa]
    if any(cset.lookup(item_id, video) is not None for item_id, video in units):
        return
    data_ids = ", ".join(repr(i) for i, _ in units[:3])
    caption_ids = ", ".join(repr(i) for i in list(cset.rows)[:3]) or "none"
    raise DataError(f"{cset.path} shares no ids with {bench.path} (data ids {data_ids}, ...; caption ids "
                    f"{caption_ids}{', ...' if len(cset.rows) > 3 else ''}): wrong file, or wrong --sample?")


def make_judge(job: EvalJob) -> Judge | None:
    if not job.config.needs_judge:
        return None
    backend = create_backend(job.judge, job.backend)
    load = getattr(backend, "load", None)
    if load is not None:  # a local model: fail now, in one line, rather than once per item
        load()
    cache = JudgeCache(job.cache_path or job.out / "judge_cache.sqlite")
    return Judge(backend, cache, job.judge_config)


def run_job(job: EvalJob, progress: bool = True, judge: Judge | None = None) -> JobOutcome:
    """Run ``job``; ``judge`` overrides the one the job describes (tests pass a scripted one).

    One evaluation writes a report folder at a time: a second process on the same ``out``
    stops at once (:class:`avcap.data.lock.OutputBusyError`) instead of interleaving reports.
    """
    from avcap.data.lock import OutputLock

    job.out.mkdir(parents=True, exist_ok=True)
    with OutputLock(job.out, what="report folder"):
        return _run_locked(job, progress, judge)


def _run_locked(job: EvalJob, progress: bool, judge: Judge | None) -> JobOutcome:
    bench, sets = load_inputs(job)
    judge = judge if judge is not None else make_judge(job)
    total = count_units(bench, sets, job.config)
    start = time.perf_counter()

    async def go():
        from tqdm import tqdm

        with tqdm(total=total, desc="evaluating", unit="item", disable=not progress, file=sys.stderr) as bar:
            try:
                return await run_eval(bench, sets, judge, job.config, on_unit_done=lambda: bar.update(1))
            finally:
                if judge is not None:
                    await judge.aclose()

    result = asyncio.run(go())
    wall_s = time.perf_counter() - start
    judge_info = None
    if judge is not None:
        judge_info = {
            "backend": judge.backend.name, "model": judge.backend.model,
            "temperature": judge.config.temperature, "prompts": [p.key for p in ALL_PROMPTS],
        }
    report = build_report(bench, sets, result, job.config, judge_info, job.prices)
    report["params"]["audit_filter"] = job.audit_filter
    report["params"]["audit_filtered_out"] = job.filtered_out
    stats = judge.stats if judge is not None else JudgeStats()
    limiter = getattr(judge.backend, "limiter", None) if judge is not None else None
    waited_s = round(limiter.waited_s, 3) if limiter is not None else 0.0
    report_path, html_path = job.out / "report.json", job.out / "report.html"
    atomic_write_json(report_path, report)
    atomic_write_text(html_path, render_html(report))
    # What this run did (report.json is a pure function of captions + judgments; a re-run does less).
    atomic_write_json(job.out / "run.json", {"wall_s": wall_s, "units": total, "judge_stats": asdict(stats),
                                             "rate_limit_wait_s": waited_s})
    return JobOutcome(report, report_path, html_path, stats, wall_s, waited_s)
