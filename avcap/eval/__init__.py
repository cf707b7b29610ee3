"""Benchmarks: loaders, the evaluation runner, report.json and report.html.

``run_job(EvalJob(data, [captions], out, ...))`` is what ``avcap eval`` runs.
"""

from avcap.eval.captions import CaptionSet, load_captions
from avcap.eval.loaders import Benchmark, QAItem, load_benchmark
from avcap.eval.pipeline import EvalJob, JobOutcome, run_job
from avcap.eval.report_json import Prices, build_report
from avcap.eval.runner import EvalConfig, run_eval

__all__ = [
    "Benchmark", "CaptionSet", "EvalConfig", "EvalJob", "JobOutcome", "Prices", "QAItem", "build_report",
    "load_benchmark", "load_captions", "run_eval", "run_job",
]
