"""avcap's GRPO step vs TRL's ``GRPOTrainer``: step time and peak memory, same tiny VLM, same frames.

Both train the same random-init tiny Qwen2-VL (``tiny:qwen2-vl``, the real transformers classes
from a shrunken config) with the same LoRA on the LLM (r, α, targets, no dropout), β = 0.04,
G samples per prompt at temperature 1.0, the same completion limit, learning rate and scripted
reward (the caption's length in characters: always a spread, so every step has gradients), and
both take the reference by disabling the adapter. One step = sampling + reward + scoring +
backward + update, as each trainer does it.

Input: every prompt carries the same sampled video frames. TRL's GRPO takes images only (it has
no video column), so it gets the frames as a list of images; avcap gets them as the video clip
they came from (Qwen2-VL merges each 2 frames in time, so avcap's prompt has fewer visual
tokens -- the saving a video path gives). Audio is avcap-only (TRL has no audio input at all):
``--family salmonn2`` runs avcap alone on the tiny video-SALMONN 2+ with audio + video.

Each side runs in its own process, so peak memory is its own: CUDA ``max_memory_allocated`` on a
GPU, sampled resident memory on CPU, above what was held before training. Step time is the median
over steps after warm-up. Printed as ratios avcap / TRL (target <= 1.0 for both).

    python benchmarks/grpo.py [--device cpu|cuda] [--steps 6] [--prompts 2] [--generations 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dpo import RssSampler, StepTimer  # noqa: E402  (the DPO benchmark's timers, shared)

PROMPT = "Describe the video in detail."
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def length_reward(completions=None, **_):  # TRL's reward signature
    return [float(len(_text(c))) for c in completions]


def _text(c) -> str:
    if isinstance(c, str):
        return c
    if isinstance(c, list):  # conversational completion: [{"role": "assistant", "content": ...}]
        content = c[-1]["content"] if c else ""
        return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return str(c)


def clip_and_model(args):
    from avcap.models.tiny import tiny_path
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    video = Path(tempfile.gettempdir()) / "avcap-bench-grpo.mp4"
    if not video.exists():
        write_sample_video(video, SampleVideoSpec(duration_s=args.seconds, fps=4, width=112, height=112, seed=0))
    name = "tiny:qwen2-vl" if args.family == "vl" else "tiny:salmonn2"
    return video, name, str(tiny_path(name))


def run_avcap(args, timer):
    from torch.utils.data import Dataset
    from transformers import TrainingArguments

    from avcap.data import DatasetRow
    from avcap.models import load_captioner
    from avcap.train.configs import LoraArgs
    from avcap.train.data import load_row_clip
    from avcap.train.grpo import GRPOObjective, PromptItem, collate_prompts
    from avcap.train.grpo_rewards import Reward
    from avcap.train.policy import PolicyModule
    from avcap.train.trainer import AvcapTrainer, compatible_args

    video, name, _ = clip_and_model(args)
    captioner = load_captioner(name, device=args.device)
    rows = [DatasetRow(id=str(i), video=str(video), audio=None, prompt=None, reference=None, events=None, raw={})
            for i in range(args.prompts * args.steps)]

    class Prompts(Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            return load_row_clip(rows[i], captioner.frame_policy), PromptItem(rows[i], PROMPT)

    policy = PolicyModule.build(captioner, lora=LoraArgs(r=args.r, alpha=2.0, dropout=0.0, targets=TARGETS),
                                train_aligner=args.family == "salmonn2", no_dropout=True)
    objective = GRPOObjective(lambda r, caps, n: [Reward(float(len(c))) for c in caps], num_generations=args.generations,
                              temperature=1.0, max_new_tokens=args.max_new_tokens, beta=0.04)
    trainer = AvcapTrainer(model=policy, args=TrainingArguments(**compatible_args(_common(args, "/tmp/avcap-bench-grpo"))),
                           train_dataset=Prompts(), data_collator=collate_prompts, objective=objective,
                           callbacks=[timer.callback])
    objective.bind(trainer)
    return trainer


def _common(args, out_dir):
    return dict(output_dir=out_dir, max_steps=args.steps, learning_rate=1e-5, lr_scheduler_type="constant",
                warmup_steps=0, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                use_cpu=args.device == "cpu", seed=0, dataloader_num_workers=0, remove_unused_columns=False,
                per_device_train_batch_size=args.prompts)


def run_trl(args, timer):
    import av
    from datasets import Dataset
    from peft import LoraConfig
    from PIL import Image
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration
    from trl import GRPOConfig, GRPOTrainer

    from avcap.train.trainer import compatible_args

    video, _, path = clip_and_model(args)
    from avcap.media import load_clip

    clip = load_clip(video, policy="qwen-vl")
    frames = [Image.fromarray(f) for f in clip.frames]
    del av
    content = [{"type": "image"} for _ in frames] + [{"type": "text", "text": PROMPT}]
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": content}], "images": frames}
                              for _ in range(args.prompts * args.steps)])
    model = Qwen2VLForConditionalGeneration.from_pretrained(path).to(args.device)
    common = _common(args, "/tmp/avcap-bench-grpo-trl")
    common["per_device_train_batch_size"] = args.prompts * args.generations  # TRL counts completions
    config = GRPOConfig(**compatible_args(common), num_generations=args.generations,
                        max_completion_length=args.max_new_tokens, temperature=1.0, beta=0.04, loss_type="grpo")
    lora = LoraConfig(r=args.r, lora_alpha=2.0 * args.r, lora_dropout=0.0, bias="none", target_modules=TARGETS)
    return GRPOTrainer(model=model, reward_funcs=length_reward, args=config, train_dataset=data,
                       processing_class=AutoProcessor.from_pretrained(path), peft_config=lora,
                       callbacks=[timer.callback])


def worker(args) -> dict:
    import torch

    cuda = args.device.startswith("cuda")
    timer = StepTimer(cuda)
    trainer = (run_avcap if args.worker == "avcap" else run_trl)(args, timer)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        trainer.train()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        with RssSampler() as sampler:
            trainer.train()
        peak = sampler.peak - sampler.base
    steady = timer.times[args.warmup:]
    # Mean completion length: sampled captions may stop early (EOS); the ratio reads fairly only beside it.
    if args.worker == "avcap":
        lengths = [m["completion_tokens"] for m in trainer.objective.step_log]
    else:
        lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    return {"side": args.worker, "step_s": statistics.median(steady), "peak_bytes": peak, "steps": len(timer.times),
            "completion_tokens": sum(lengths) / max(len(lengths), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--family", choices=["vl", "salmonn2"], default="vl",
                        help="vl: avcap vs TRL on tiny Qwen2-VL; salmonn2: avcap alone, audio + video")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--prompts", type=int, default=2, help="clips per step")
    parser.add_argument("--generations", type=int, default=4, help="G")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the sample video")
    parser.add_argument("--r", type=int, default=8, help="LoRA rank")
    parser.add_argument("--worker", choices=["avcap", "trl"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = {}
    for side in ("avcap", "trl") if args.family == "vl" else ("avcap",):
        cmd = [sys.executable, __file__, "--worker", side, *sys.argv[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        if proc.returncode != 0:
            sys.exit(f"{side} run failed:\n{proc.stderr[-3000:]}")
        results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"GRPO step, {'tiny Qwen2-VL' if args.family == 'vl' else 'tiny video-SALMONN 2+ (audio + video)'}, "
          f"{args.prompts} clips x G={args.generations}, {args.max_new_tokens} new tokens, LoRA r={args.r}, "
          f"device {args.device}")
    for side, res in results.items():
        print(f"  {side:6s} step {res['step_s'] * 1000:8.1f} ms   peak memory above weights "
              f"{res['peak_bytes'] / 2**20:8.1f} MiB   mean completion {res['completion_tokens']:.1f} tokens (avcap: re-tokenised text)")
    if "trl" in results:
        ours, trl = results["avcap"], results["trl"]
        print(f"time ratio avcap/TRL:   {ours['step_s'] / trl['step_s']:.2f}x (target <= 1.0)")
        print(f"memory ratio avcap/TRL: {ours['peak_bytes'] / max(trl['peak_bytes'], 1):.2f}x (target <= 1.0)")


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    main()
