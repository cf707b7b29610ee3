"""Run one benchmark: load its files, judge every (caption file, item, run), write report.json.

Judgments go through the shared SQLite cache, so a run killed half-way and started again asks
only what is missing, and a finished run re-reads everything for free. ``estimate`` is the
``--dry-run``: the questions a run would ask, how many the cache already answers, and the
tokens (and cost) of the rest, without a single call.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from avcap.data import JsonlAppender, atomic_write_json
from avcap.errors import ConfigError, DataError
from avcap.eval.benchmarks.captions import BenchCaptions, load_bench_captions
from avcap.eval.benchmarks.formats import BenchData, load_bench_data
from avcap.eval.benchmarks.protocol_file import OfficialPrompts, discover_protocol_file, read_protocol_file
from avcap.eval.benchmarks.protocols import PROTOCOLS
from avcap.eval.benchmarks.protocols.base import Context, caption_failed
from avcap.eval.benchmarks.spec import BenchmarkSpec
from avcap.eval.benchmarks.text import collapse_repeats
from avcap.eval.report_json import Prices
from avcap.judge import (
    BackendOptions,
    Judge,
    JudgeCache,
    JudgeConfig,
    JudgeStats,
    Judgment,
    RetryPolicy,
    create_backend,
)
from avcap.judge import prompts as P

AUTO = "auto"


@dataclass
class BenchJob:
    spec: BenchmarkSpec  # overrides already applied
    data: Path
    captions: list[Path]  # the first is reported; a second is compared with it (paired bootstrap)
    out: Path
    deviations: list[str] = field(default_factory=list)
    judge: str = "openai"
    backend: BackendOptions = field(default_factory=BackendOptions)
    concurrency: int = 16
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cache_path: Path | None = None  # default OUT/judge_cache.sqlite
    prices: Prices | None = None
    protocol_file: Path | str | None = AUTO  # AUTO: look beside the data; None: avcap's prompts
    prompt_name: str | None = None
    fallback_name: str | None = None
    variant: str | None = None
    n_boot: int = 1000
    level: float = 0.95
    boot_seed: int = 0
    sample: int = 0
    retry_failed: bool = False  # ask again the questions a previous run found unusable

    def __post_init__(self) -> None:
        if not self.captions:
            raise ConfigError("give a captions file")
        if len(self.captions) > 2:
            raise ConfigError("--compare takes one more captions file (a paired test of two)")
        if self.n_boot < 0:
            raise ConfigError("--bootstrap must be >= 0")
        if not 0 < self.level < 1:
            raise ConfigError("--level must be in (0, 1)")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be >= 1")


@dataclass
class Prepared:
    job: BenchJob
    spec: BenchmarkSpec
    protocol: ModuleType
    data: BenchData
    sets: list[BenchCaptions]
    official: OfficialPrompts | None
    judge_config: JudgeConfig
    # per set: per item (caption text or None, caption failure cause or None, collapsed?)
    captions: list[list[tuple[str | None, str | None, bool]]]
    notices: list[str] = field(default_factory=list)


def _set_names(paths: list[Path]) -> list[str]:
    names: list[str] = []
    for path in paths:
        name, n = path.stem, 2
        while name in names:
            name, n = f"{path.stem}#{n}", n + 1
        names.append(name)
    return names


def _official(job: BenchJob, notices: list[str]) -> OfficialPrompts | None:
    if job.spec.protocol != "events" or job.protocol_file is None:
        return None
    path = job.protocol_file
    if path == AUTO:
        path = discover_protocol_file(job.data)
        if path is None:
            notices.append("no official evaluation script beside the data: judging with avcap's own prompts "
                           "(salmonn2.judge, salmonn2.judge_fallback), not the official wording; give it with --protocol-file")
            return None
    official = read_protocol_file(Path(path), job.prompt_name, job.fallback_name)
    notices.append(f"judge prompt read from {official.path} (template {official.main.name!r}, line {official.main.line}"
                   + (f"; fallback {official.fallback.name!r}, line {official.fallback.line})" if official.fallback else
                      "; no fallback prompt in it)"))
    return official


def prepare(job: BenchJob) -> Prepared:
    spec = job.spec
    notices: list[str] = []
    data = load_bench_data(job.data, spec.data_format)
    names = _set_names(job.captions)
    sets = [load_bench_captions(p, name, job.sample) for p, name in zip(job.captions, names)]
    official = _official(job, notices)
    protocol = PROTOCOLS[spec.protocol]
    captions = []
    for cset in sets:
        per_item, found = [], 0
        for item in data.items:
            row = cset.set.lookup(item.video_key, item.video)
            if row is None:
                per_item.append((None, "no caption for this item in the captions file", False))
                continue
            found += 1
            if row.error is not None:
                per_item.append((None, " ".join(row.error.split()), False))
                continue
            text = row.caption or ""
            collapsed = False
            if spec.collapse_repeats and cset.ended.get(row.id) is not True:
                new = collapse_repeats(text)
                if new != " ".join(text.split()):  # only a real collapse changes the judge's input
                    collapsed, text = True, new
            per_item.append((text, None, collapsed))
        if found == 0:
            raise DataError(f"{cset.set.path}: no caption matches an item of {job.data} (ids, video names or stems)")
        captions.append(per_item)
    json_mode = official is None  # avcap's prompts ask for JSON; the official wording may not say so
    config = JudgeConfig(concurrency=job.concurrency, temperature=spec.judge.temperature,
                         max_tokens=spec.judge.max_tokens, max_reasks=0, json_mode=json_mode, retry=job.retry)
    return Prepared(job, spec, protocol, data, sets, official, config, captions, notices)


def make_judge(prep: Prepared) -> Judge:
    backend = create_backend(prep.job.judge, prep.job.backend)
    load = getattr(backend, "load", None)
    if load is not None:  # a local model: fail now, in one line
        load()
    cache = JudgeCache(prep.job.cache_path or prep.job.out / "judge_cache.sqlite")
    return Judge(backend, cache, prep.judge_config)


async def score_all(prep: Prepared, judge: Judge, tokens: dict[str, tuple[int, int]], on_unit=None,
                    failed: JsonlAppender | None = None) -> list[list[list[dict]]]:
    """records[set][item][run]."""
    runs = prep.spec.runs

    def note(j: Judgment) -> None:
        if j.ok:
            tokens[j.key] = (j.prompt_tokens, j.completion_tokens)

    ctx = Context(prep.spec, judge, note, prep.official, prep.job.variant, failed)
    records = [[[None] * runs for _ in prep.data.items] for _ in prep.sets]

    async def one(s: int, i: int, r: int) -> None:
        text, cause, _ = prep.captions[s][i]
        if text is None:
            records[s][i][r] = caption_failed(cause or "no caption")
        else:
            try:
                records[s][i][r] = await prep.protocol.score(ctx, prep.data.items[i], text, r)
            except Exception as err:  # a protocol bug costs one item, with its cause, never the run
                records[s][i][r] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        if on_unit is not None:
            on_unit()

    await asyncio.gather(*(one(s, i, r) for s in range(len(prep.sets)) for i in range(len(prep.data.items))
                           for r in range(runs)))
    return records


@dataclass
class Outcome:
    report: dict
    report_path: Path
    stats: JudgeStats
    wall_s: float
    prepared: Prepared


def _served(judge: Judge, out: Path) -> dict[str, int]:
    """Snapshots that answered, kept in OUT so a re-run from the cache still reports them."""
    path = out / "served_models.json"
    seen: Counter[str] = Counter()
    if path.is_file():
        try:
            seen.update({str(k): int(v) for k, v in json.loads(path.read_text()).items()})
        except (ValueError, AttributeError, TypeError):
            pass
    seen.update(getattr(judge.backend, "served", {}) or {})
    if seen:
        atomic_write_json(path, dict(sorted(seen.items())))
    return dict(sorted(seen.items()))


def prompt_info(prep: Prepared) -> dict:
    if prep.official is not None:
        o = prep.official
        return {"source": "official script", "path": str(o.path), "file_sha256": o.file_sha256,
                "prompt_sha256": o.prompt_sha256, "main": o.main.name, "fallback": o.fallback.name if o.fallback else None}
    used = {"events": [P.SALMONN2_JUDGE, P.SALMONN2_JUDGE_FALLBACK], "autodq": [P.AUTODQ_EVENTS, P.AUTODQ_ENTAIL],
            "qa": [P.QA_ANSWER], "ugc": [P.UGC_SCORE], "vdc": [P.VDC_ANSWER, P.VDC_MATCH]}[prep.spec.protocol]
    return {"source": "avcap default (not the official wording)", "keys": [p.key for p in used]}


def judge_info(prep: Prepared, judge: Judge | None, served: dict[str, int]) -> dict:
    j = prep.spec.judge
    return {
        "backend": prep.job.judge, "model": judge.backend.model if judge is not None else j.model, "served": served,
        "temperature": j.temperature, "top_p": j.top_p, "seed": j.seed, "seed_per_run": j.seed_per_run,
        "seed_per_retry": j.seed_per_retry, "max_tokens": j.max_tokens, "json_mode": prep.judge_config.json_mode,
        "retries": prep.spec.retries, "fallback_prompt": prep.spec.fallback_prompt, "runs": prep.spec.runs,
        "transport_attempts": prep.job.retry.max_attempts, "prompt": prompt_info(prep),
    }


def run_bench(job: BenchJob, progress: bool = True, judge: Judge | None = None) -> Outcome:
    """Run ``job``; ``judge`` overrides the one it describes (tests pass their own).

    One run writes an OUT folder at a time (:class:`avcap.data.lock.OutputLock`): a second
    process on the same folder stops at once instead of interleaving reports and ledgers.
    """
    from avcap.data.lock import OutputLock

    job.out.mkdir(parents=True, exist_ok=True)
    with OutputLock(job.out, what="report folder"):
        return _run_locked(job, progress, judge)


def _run_locked(job: BenchJob, progress: bool, judge: Judge | None) -> Outcome:
    from avcap.eval.benchmarks.report import build_report

    prep = prepare(job)
    judge = judge if judge is not None else make_judge(prep)
    tokens: dict[str, tuple[int, int]] = {}
    total = len(prep.sets) * len(prep.data.items) * prep.spec.runs
    start = time.perf_counter()

    async def go():
        from tqdm import tqdm

        with tqdm(total=total, desc=prep.spec.name, unit="item-run", disable=not progress, file=sys.stderr) as bar:
            try:
                return await score_all(prep, judge, tokens, on_unit=lambda: bar.update(1), failed=ledger)
            finally:
                await judge.aclose()

    ledger_path = job.out / "failed_answers.jsonl"
    if job.retry_failed and ledger_path.exists():
        ledger_path.unlink()
    with JsonlAppender(ledger_path, key=lambda row: row["key"], fsync=False) as ledger:
        records = asyncio.run(go())
    wall_s = time.perf_counter() - start
    job.out.mkdir(parents=True, exist_ok=True)
    report = build_report(prep, records, judge_info(prep, judge, _served(judge, job.out)), tokens)
    report_path = job.out / "report.json"
    atomic_write_json(report_path, report)
    atomic_write_json(job.out / "run.json", {"wall_s": wall_s, "units": total, "judge_stats": asdict(judge.stats)})
    return Outcome(report, report_path, judge.stats, wall_s, prep)


class _KeyOnly:
    """Stands in for a backend when only cache keys are needed (a dry run makes no call)."""

    def __init__(self, name: str, model: str):
        self.name, self.model = name, model


def estimate(job: BenchJob) -> dict:
    """What a run would ask, before asking: first attempts, cache hits, estimated tokens and cost."""
    prep = prepare(job)
    spec = prep.spec
    model = job.backend.model or spec.judge.model
    keyer = Judge(_KeyOnly(job.judge, model), None, prep.judge_config)  # type: ignore[arg-type]
    cache_path = job.cache_path or job.out / "judge_cache.sqlite"
    cache = JudgeCache(cache_path) if cache_path.is_file() else None
    ledger_path = job.out / "failed_answers.jsonl"
    known_bad: set[str] = set()
    if ledger_path.is_file() and not job.retry_failed:
        from avcap.data import iter_jsonl

        known_bad = {str(row.get("key")) for _, row in iter_jsonl(ledger_path)}
    ctx = Context(spec, keyer, lambda j: None, prep.official, job.variant)
    seen: set[str] = set()
    calls = cached = prompt_tokens = completion_tokens = 0
    for s in range(len(prep.sets)):
        for i, item in enumerate(prep.data.items):
            text = prep.captions[s][i][0]
            if text is None:
                continue
            for r in range(spec.runs):
                for task, completion in prep.protocol.plan(ctx, item, text, r):
                    task = task.with_sampling(seed=spec.judge.seed_for(r, 0), top_p=spec.judge.top_p)
                    key = keyer.key(task, r)
                    if key in seen:
                        continue
                    seen.add(key)
                    calls += 1
                    if f"{key}#0" in known_bad or (cache is not None and cache.get(key) is not None):
                        cached += 1  # answered before (usable, or found unusable and not asked again)
                        continue
                    chars = sum(len(str(m.get("content", ""))) for m in task.messages)
                    prompt_tokens += chars // 4 + 4 * len(task.messages)  # ~4 characters per token
                    completion_tokens += completion
    if cache is not None:
        cache.close()
    per_question = spec.retries + 1 + int(spec.fallback_prompt)
    out = {
        "benchmark": spec.name, "judge_model": model, "runs": spec.runs, "questions": calls, "cached": cached,
        "to_ask": calls - cached, "estimated_prompt_tokens": prompt_tokens,
        "estimated_completion_tokens": completion_tokens, "max_questions_with_retries": (calls - cached) * per_question,
        "prices_per_1m": None if job.prices is None else [job.prices.prompt_per_1m, job.prices.completion_per_1m],
        "estimated_cost_usd": None if job.prices is None else job.prices.cost(prompt_tokens, completion_tokens),
        "notices": prep.notices, "deviations": job.deviations,
        "method": "first attempts only; prompt tokens = characters / 4; answer tokens from a per-prompt allowance",
    }
    return out


def usable_indices(prep: Prepared, s: int) -> np.ndarray:
    return np.asarray([i for i, c in enumerate(prep.captions[s]) if c[0] is not None], dtype=np.int64)
