"""Captioning throughput (batched vs one-by-one) and peak memory against frame count.

Baseline: the same captioner called one video at a time (``caption([clip])``), which is what
the official inference scripts of video-SALMONN 2 and AVoCaDO do. Batched: ``--batch-size``
videos per ``generate`` call (left padding, KV cache). Greedy decoding, so both produce the
same captions (checked) and the same number of tokens; the ratio is videos/s batched over
videos/s one-by-one (target >= 2x).

Peak memory: one clip of N frames at 2 fps (with N/2 s of audio) is captioned at the
release's pixel budget (AVoCaDO's 401,408 pixels per frame for Qwen-Omni, qwen-vl-utils' for
Qwen-VL), so the token count grows as a real checkpoint's would; the network is the miniature.
On CUDA the peak is ``torch.cuda.max_memory_allocated``; on CPU it is the process's peak RSS
(monotonic, so frame counts run in increasing order).

    python benchmarks/caption.py --model tiny:omni --videos 16 --batch-size 8
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clips(captioner, n_videos: int, folder: Path):
    from avcap.media import load_clip
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    clips = []
    for i in range(n_videos):
        path = write_sample_video(folder / f"v{i:03d}.mp4",
                                  SampleVideoSpec(duration_s=2.0 + (i % 4), width=160, height=120, seed=i))
        clips.append(load_clip(path, policy=captioner.frame_policy))
    return clips


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def prompt_of(captioner) -> str:
    from avcap.models import DEFAULT_PROMPT

    return getattr(captioner, "default_prompt", None) or DEFAULT_PROMPT


def throughput(captioner, clips, batch_size: int, generation, device: str) -> dict:
    prompt = prompt_of(captioner)
    captioner.caption(clips[:batch_size], prompt, generation)  # warm-up: allocator, kernels
    captioner.caption(clips[:1], prompt, generation)
    sync(device)
    t0 = time.perf_counter()
    single = [captioner.caption([c], prompt, generation)[0] for c in clips]
    sync(device)
    t_single = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = []
    for i in range(0, len(clips), batch_size):
        batched += captioner.caption(clips[i:i + batch_size], prompt, generation)
    sync(device)
    t_batched = time.perf_counter() - t0
    def count(texts):
        return sum(len(captioner.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)

    return {
        "videos": len(clips), "batch_size": batch_size, "max_new_tokens": generation.max_new_tokens,
        # fp32: identical by construction; bf16: padding changes rounding, so a few argmaxes may flip.
        "identical_captions": single == batched,
        "same_caption_fraction": round(sum(a == b for a, b in zip(single, batched)) / len(clips), 3),
        "one_by_one_tokens": count(single), "batched_tokens": count(batched),
        "one_by_one_s": round(t_single, 3), "batched_s": round(t_batched, 3),
        "one_by_one_videos_per_s": round(len(clips) / t_single, 2),
        "batched_videos_per_s": round(len(clips) / t_batched, 2),
        "ratio": round(t_single / t_batched, 2),
    }


def release_budget(captioner):
    from avcap.models.omni import AVOCADO_PIXELS
    from avcap.models.vl import QWEN3_VL_PIXELS, QWEN_VL_PIXELS, TARSIER2_PIXELS

    if captioner.family == "omni":
        return AVOCADO_PIXELS
    variant = getattr(captioner, "variant", "")
    return {"tarsier2": TARSIER2_PIXELS, "qwen3-vl": QWEN3_VL_PIXELS}.get(variant, QWEN_VL_PIXELS)


def peak_memory(captioner, frame_counts: list[int], device: str, generation) -> list[dict]:
    import torch

    from avcap.media.clip import Clip

    if hasattr(captioner, "pixels"):
        captioner.pixels = release_budget(captioner)
    rng = np.random.default_rng(0)
    rows = []
    for n in sorted(frame_counts):
        duration = n / 2.0  # 2 fps, the omni / qwen-vl policies' rate
        clip = Clip(path=f"synthetic-{n}", frames=rng.integers(0, 255, (n, 448, 448, 3), dtype=np.uint8),
                    frame_times=np.arange(n) / 2.0, audio=(0.1 * rng.standard_normal(int(duration * 16000))).astype(np.float32),
                    duration_s=duration, has_audio=True)
        prompt_tokens = int(captioner.encode(clip, prompt_of(captioner))["input_ids"].shape[1]) \
            if hasattr(captioner, "encode") else None
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        captioner.caption([clip], prompt_of(captioner), generation)
        sync(device)
        seconds = time.perf_counter() - t0
        if device.startswith("cuda"):
            peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        rows.append({"frames": n, "prompt_tokens": prompt_tokens, "peak_mb": round(peak_mb, 1),
                     "seconds": round(seconds, 3)})
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny:omni")
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--frames", default="4,8,16,32,64", help="frame counts for the memory sweep")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from avcap.models import GenerationConfig, load_captioner
    from avcap.models.hf_common import resolve_device

    device = resolve_device(args.device)
    captioner = load_captioner(args.model, device=device, dtype=args.dtype)
    generation = GenerationConfig(max_new_tokens=args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(captioner, args.videos, Path(tmp))
    result = {
        "model": args.model, "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "dtype": str(next(captioner.model.parameters()).dtype), "torch_threads": torch.get_num_threads(),
        "throughput": throughput(captioner, clips, args.batch_size, generation, device),
        "memory": peak_memory(captioner, [int(x) for x in args.frames.split(",")], device,
                              GenerationConfig(max_new_tokens=8)),
    }
    tp = result["throughput"]
    print(f"{args.model} on {result['device']} ({result['dtype']}): {tp['videos']} videos, "
          f"max {tp['max_new_tokens']} new tokens, greedy")
    print(f"  one-by-one: {tp['one_by_one_videos_per_s']:.2f} videos/s   batched (x{tp['batch_size']}): "
          f"{tp['batched_videos_per_s']:.2f} videos/s   ratio {tp['ratio']:.2f}x")
    print(f"  caption tokens one-by-one {tp['one_by_one_tokens']}, batched {tp['batched_tokens']}; "
          f"identical captions: {tp['same_caption_fraction']:.0%}")
    print("  peak memory (one clip, release pixel budget):")
    for row in result["memory"]:
        print(f"    {row['frames']:4d} frames  {row['prompt_tokens']!s:>6} prompt tokens  {row['peak_mb']:9.1f} MiB  "
              f"{row['seconds']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
