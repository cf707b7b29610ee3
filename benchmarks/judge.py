"""Judge throughput against a local OpenAI-compatible server, and the cost of a re-run.

500 items x 3 judge runs (video-SALMONN 2 metric, events given, so 1,500 judge calls)
against ``avcap.judge.testing.FakeOpenAIServer`` answering after 100 ms, at concurrency 32.
The baseline is the ideal schedule: calls x latency / concurrency (no overhead at all).
Prints wall / ideal (1.0 would be perfect), then the number of calls an immediate re-run
makes (it must be 0: everything is in the cache).

    python benchmarks/judge.py [--items 500] [--runs 3] [--latency 0.1] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from avcap.eval import EvalConfig, EvalJob, run_job
from avcap.judge import BackendOptions, JudgeConfig, RetryPolicy

SUBJECTS = ["A man", "A woman", "A dog", "A child", "A chef", "A cyclist", "A bird", "A robot"]
ACTIONS = ["opens a door", "says hello", "jumps over a fence", "plays the piano", "waves at the camera",
           "drops a cup", "runs across a field", "laughs loudly"]


def write_inputs(folder: Path, n_items: int) -> tuple[Path, Path]:
    rows, captions = [], []
    for i in range(n_items):
        events = [f"{SUBJECTS[(i + k) % 8]} {ACTIONS[(i * 3 + k) % 8]} in scene {k} of clip {i}." for k in range(8)]
        kept = [e for k, e in enumerate(events) if (i + k) % 3]  # drop a third: missed events
        rows.append({"id": f"v{i:04d}", "video": f"v{i:04d}.mp4", "events": events,
                     "conversations": [{"from": "gpt", "value": " ".join(events)}]})
        captions.append({"id": f"v{i:04d}", "video": f"v{i:04d}.mp4", "caption": " ".join(kept) + " A cat sleeps.",
                         "model": "bench", "error": None})
    data, caps = folder / "test.json", folder / "captions.jsonl"
    data.write_text(json.dumps(rows))
    caps.write_text("".join(json.dumps(c) + "\n" for c in captions))
    return data, caps


@contextmanager
def server_process(latency_s: float):
    """The test server in its own process, as a real judge server would be: its CPU time and
    GIL are not the client's."""
    proc = subprocess.Popen([sys.executable, "-m", "avcap.judge.testing", "--latency", str(latency_s)],
                            stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, server_process(args.latency) as base_url:
        data, caps = write_inputs(Path(tmp), args.items)
        job = EvalJob(
            data=data, captions=[caps], out=Path(tmp) / "out", judge="openai",
            config=EvalConfig(metrics=("salmonn2",), judge_runs=args.runs),
            backend=BackendOptions(model="bench-judge", base_url=base_url, timeout_s=30),
            judge_config=JudgeConfig(concurrency=args.concurrency, retry=RetryPolicy(base_delay_s=0.05)),
        )
        first = run_job(job, progress=False)
        calls = first.stats.calls
        ideal = calls * args.latency / args.concurrency
        total = first.report["caption_sets"][0]["metrics"]["salmonn2"]["total"]
        print(f"{args.items} items x {args.runs} runs: {calls} judge calls")
        print(f"wall {first.wall_s:.2f}s, ideal {ideal:.2f}s (calls x {args.latency * 1000:.0f} ms / {args.concurrency}); "
              f"wall / ideal = {first.wall_s / ideal:.2f}  (Total% {total:.1%})")
        again = run_job(job, progress=False)
        print(f"immediate re-run: {again.stats.calls} judge calls, {again.stats.cache_hits} cache hits, "
              f"wall {again.wall_s:.2f}s")
        assert again.report == first.report, "a re-run from the cache must give the same report"


if __name__ == "__main__":
    main()
