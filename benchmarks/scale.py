"""Ray engine scaling: videos/s with 1 vs 2 Ray CPU replicas, and the local engine vs Ray with 1.

Same corpus (generated 2 s videos), same model (``tiny:salmonn2`` with enough new tokens that
its generation step dominates decoding), one torch thread per replica. Baselines: Ray with one
replica (for the 2-replica speed-up; goal >= 1.7x on 2 cores) and the local engine (for Ray's
overhead with one replica; goal <= 1.15x). Throughput is steady state: rows after the first over
the time from the first row to the last, so Ray's start and the replicas' model loads -- a fixed
cost per run, seconds -- are reported apart ("start-up").

    python benchmarks/scale.py [--videos 24] [--tokens 96] [--model tiny:salmonn2]

On a lent GPU, ``--gpus 1`` runs the replicas with one GPU each instead (``--replicas`` on).
The machine's load average is printed: on a shared 2-core box other jobs skew the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("OMP_NUM_THREADS", "1")


def corpus(root: Path, n: int) -> Path:
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_sample_video(root / f"v{i:03d}.mp4", SampleVideoSpec(duration_s=2.0, fps=8, width=64, height=48, seed=i))
    return root


def rate(summary) -> tuple[float, float]:
    """(steady videos/s, start-up seconds) of a run."""
    steady_s = summary.seconds - (summary.first_row_s or 0.0)
    return (summary.captioned - 1) / max(steady_s, 1e-9), summary.first_row_s or 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=24)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--model", default="tiny:salmonn2")
    ap.add_argument("--gpus", type=float, default=0.0, help="GPUs per replica (0: CPU replicas)")
    args = ap.parse_args()

    import ray
    import torch

    from avcap.engines import CaptionerSpec
    from avcap.engines.ray import RayOptions, run_ray
    from avcap.models import GenerationConfig
    from avcap.models.captioning import CaptionRunConfig, collect_items, run_captioning

    torch.set_num_threads(1)
    device = "cuda" if args.gpus else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items, _ = collect_items([corpus(tmp / "videos", args.videos)])
        gen = GenerationConfig(max_new_tokens=args.tokens)
        spec = CaptionerSpec(model=args.model, device=device)

        def config(name):
            return CaptionRunConfig(out=tmp / f"{name}.jsonl", generation=gen, progress=False)

        captioner, policy = spec.load()
        t0 = time.perf_counter()
        local = run_captioning(captioner, items, CaptionRunConfig(out=tmp / "local.jsonl", generation=gen,
                                                                  progress=False, frames=policy))
        local_wall = time.perf_counter() - t0
        del captioner
        ray.init(num_cpus=max(4, os.cpu_count() or 1), num_gpus=int(2 * args.gpus) if args.gpus else 0,
                 include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            one = run_ray(spec, items, config("ray1"), RayOptions(replicas=1, num_gpus_per_replica=args.gpus))
            two = run_ray(spec, items, config("ray2"), RayOptions(replicas=2, num_gpus_per_replica=args.gpus))
        finally:
            ray.shutdown()
    local_rate = (local.captioned - 1) / max(local_wall - (local.first_row_s or 0), 1e-9)
    (r1, s1), (r2, s2) = rate(one), rate(two)
    print(f"corpus: {args.videos} videos of 2 s, {args.model}, {args.tokens} new tokens, "
          f"{'GPU' if args.gpus else 'CPU'} replicas, 1 torch thread each; load average {os.getloadavg()[0]:.2f}")
    print(f"local engine        : {local_rate:6.2f} videos/s")
    print(f"ray, 1 replica      : {r1:6.2f} videos/s  (start-up {s1:.1f} s)")
    print(f"ray, 2 replicas     : {r2:6.2f} videos/s  (start-up {s2:.1f} s)")
    print(f"2 vs 1 replica      : {r2 / r1:.2f}x  (goal >= 1.7x)")
    print(f"local / ray-1 time  : {local_rate / r1:.2f}x  (Ray's overhead; goal <= 1.15x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
