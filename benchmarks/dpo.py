"""avcap's DPO step vs TRL's ``DPOTrainer``: step time and peak memory on the same tiny model and batch.

Both train the same random-init Qwen2 causal LM (offline byte-level BPE tokenizer) with the
same LoRA (r, α, targets, no dropout), sigmoid DPO β = 0.1, AdamW, the same learning rate
and batch of preference pairs; both take the reference by disabling the adapter. Each side
runs in its own process, so peak memory is its own: CUDA ``max_memory_allocated`` on a GPU,
sampled resident memory on CPU, counted above the memory held just before training starts
(model weights excluded, since they are identical). Step time is the median over steps after
warm-up. Printed as ratios avcap / TRL (target: ≤ 1.0 for both).

    python benchmarks/dpo.py [--device cpu|cuda] [--steps 12] [--pairs 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

WORDS = ("a red square moves from the left edge of the frame to the right edge while a steady tone plays "
         "then bursts of noise follow and the camera stays still as a man speaks to a woman").split()


def build(args):
    """The tiny Qwen2 model, its tokenizer and the preference pairs (identical in both processes)."""
    import random

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from avcap.models.tiny import train_tokenizer

    tokenizer = train_tokenizer([], {})
    tokenizer.pad_token = tokenizer.eos_token = "<|endoftext|>"
    config = Qwen2Config(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=8, num_key_value_heads=4,
                         max_position_embeddings=4096, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(args.device)
    rng = random.Random(0)

    def text(n):
        return " ".join(rng.choice(WORDS) for _ in range(n))

    # Answers start with a space so the prompt ends on a token boundary (TRL tokenizes prompt+answer).
    pairs = [{"prompt": text(args.prompt_words), "chosen": " " + text(args.answer_words),
              "rejected": " " + text(args.answer_words + 8)} for _ in range(args.pairs)]
    return model, tokenizer, pairs


class TextCaptioner:
    """A text-only 'captioner' over a causal LM: what avcap's DPO step needs (sequence_logps)."""

    name = family = "tiny-text"
    frame_policy = "none"

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self._ids: dict[str, list[int]] = {}

    def parameter_groups(self):
        return {"llm": list(self.model.parameters()), "audio_aligner": []}

    def _tok(self, text: str) -> list[int]:
        if text not in self._ids:  # TRL tokenizes its dataset once; so do we
            self._ids[text] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return self._ids[text]

    def sequence_logps(self, batch, return_counts: bool = False):
        import torch

        from avcap.train.logps import lm_head_logps

        device = next(self.model.parameters()).device
        rows = [(self._tok(ex.prompt), self._tok(ex.answer) + [self.tokenizer.eos_token_id]) for ex in batch]
        length = max(len(p) + len(a) for p, a in rows)
        ids = torch.full((len(rows), length), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        scored = torch.zeros_like(ids, dtype=torch.bool)
        for b, (p, a) in enumerate(rows):  # right padding
            ids[b, : len(p) + len(a)] = torch.tensor(p + a)
            mask[b, : len(p) + len(a)] = 1
            scored[b, len(p) : len(p) + len(a)] = True
        ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
        hidden = self.model.model(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, T, H]
        where = scored[:, 1:]  # position t-1 predicts token t
        # Answer positions only, in chunks: the [N, vocab] logits are never held (avcap.train.logps).
        token_logps = lm_head_logps(hidden[:, :-1][where], self.model.lm_head.weight, ids[:, 1:][where])
        rows_index = where.nonzero()[:, 0]
        logps = torch.zeros(len(rows), device=device).index_add(0, rows_index, token_logps)
        return (logps, where.sum(1)) if return_counts else logps


class StepTimer:
    """TrainerCallback recording each optimizer step's wall time (synchronised on CUDA)."""

    def __init__(self, cuda: bool):
        from transformers import TrainerCallback

        self.cuda, self.times = cuda, []
        timer = self

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                timer._sync()
                timer._start = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                timer._sync()
                timer.times.append(time.perf_counter() - timer._start)

        self.callback = _Callback()

    def _sync(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()


class RssSampler:
    """Peak resident memory of this process while training (CPU runs), sampled every 2 ms."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def __enter__(self):
        self.base = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _common_args(args, out_dir):
    from avcap.train.trainer import compatible_args

    return compatible_args(dict(output_dir=out_dir, per_device_train_batch_size=args.pairs, max_steps=args.steps, learning_rate=1e-4,
                lr_scheduler_type="constant", warmup_steps=0, logging_steps=args.steps, save_strategy="no",
                report_to="none", disable_tqdm=True, use_cpu=args.device == "cpu", bf16=args.device != "cpu",
                seed=0, dataloader_num_workers=0, remove_unused_columns=False,
                activation_checkpointing=args.checkpointing))  # TRL's DPOConfig turns it on by default


def run_avcap(args, model, tokenizer, pairs, timer):
    from torch.utils.data import Dataset

    from avcap.data import DatasetRow
    from avcap.train.configs import LoraArgs
    from avcap.train.data import PreferenceCollator, PreferenceItem
    from avcap.train.objectives import DPOObjective
    from avcap.train.policy import PolicyModule
    from avcap.train.trainer import AvcapTrainer

    class Pairs(Dataset):
        def __len__(self):
            return len(pairs)

        def __getitem__(self, i):
            row = DatasetRow(id=str(i), video=None, audio=None, prompt=None, reference=None, events=None, raw={})
            return None, PreferenceItem(row, pairs[i]["prompt"], pairs[i]["chosen"], pairs[i]["rejected"], None)

    from transformers import TrainingArguments

    policy = PolicyModule.build(TextCaptioner(model, tokenizer), lora=LoraArgs(r=args.r, alpha=2.0, dropout=0.0),
                                train_aligner=False)
    trainer = AvcapTrainer(model=policy, args=TrainingArguments(**_common_args(args, "/tmp/avcap-bench-dpo-ours"),
                                                                ddp_find_unused_parameters=False),
                           train_dataset=Pairs(), data_collator=PreferenceCollator(False),
                           objective=DPOObjective(beta=0.1, gdpo=False), callbacks=[timer.callback])
    return trainer


def run_trl(args, model, tokenizer, pairs, timer):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    config = DPOConfig(**_common_args(args, "/tmp/avcap-bench-dpo-trl"), beta=0.1, loss_type=["sigmoid"],
                       max_length=None)
    lora = LoraConfig(r=args.r, lora_alpha=2.0 * args.r, lora_dropout=0.0, bias="none",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    return DPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer,
                      peft_config=lora, callbacks=[timer.callback])


def worker(args) -> dict:
    import torch

    model, tokenizer, pairs = build(args)
    cuda = args.device.startswith("cuda")
    timer = StepTimer(cuda)
    trainer = (run_avcap if args.worker == "avcap" else run_trl)(args, model, tokenizer, pairs, timer)
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
    return {"side": args.worker, "step_s": statistics.median(steady), "peak_bytes": peak, "steps": len(timer.times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=8, help="preference pairs per step")
    parser.add_argument("--prompt-words", type=int, default=32)
    parser.add_argument("--answer-words", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8192, help="LM-head width (the tokenizer uses the first ids)")
    parser.add_argument("--r", type=int, default=16, help="LoRA rank")
    parser.add_argument("--checkpointing", action="store_true", help="activation checkpointing on both sides")
    parser.add_argument("--worker", choices=["avcap", "trl"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = {}
    for side in ("avcap", "trl"):
        cmd = [sys.executable, __file__, "--worker", side, *sys.argv[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        if proc.returncode != 0:
            sys.exit(f"{side} run failed:\n{proc.stderr[-3000:]}")
        results[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours, trl = results["avcap"], results["trl"]
    print(f"DPO step, tiny Qwen2 (hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}), "
          f"{args.pairs} pairs/step, LoRA r={args.r}, device {args.device}")
    for side, res in results.items():
        print(f"  {side:6s} step {res['step_s'] * 1000:8.1f} ms   peak memory above weights "
              f"{res['peak_bytes'] / 2**20:8.1f} MiB")
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
