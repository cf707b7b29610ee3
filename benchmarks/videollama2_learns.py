"""Does a tiny VideoLLaMA 2 learn from its audio-visual input? Held-out loss vs the text-only prior.

Two runs from the same random-init ``tiny:videollama2-av``, same seed, same steps, same captions
of the synthetic world (``avcap synth dataset``):

* ``media``: trained on the real clips (frames + sound);
* ``text-only`` (the named baseline): trained on the same rows with every clip blanked (black
  frames, silence), so it can only learn the captions' text prior.

By default both train what avcap's SFT trains for this family (``PolicyModule``: encoders
frozen, a LoRA on the LLM, the STC connector and the audio projector in full), with the SFT
objective (mean token NLL of the caption). The miniature is random-init, not pretrained, so
``--full-llm`` trains the LLM in full, ``--train-encoders`` SigLIP and BEATs too, ``--reinit``
initialises towers / connector / projector for training from scratch
(``videollama2_tiny.reinit_for_training``) and ``--scratch-lr-mult`` speeds up those parts.
Held-out rows come from another synthetic seed. Printed (JSON): how much each stage's output
changes between a clip and its blanked copy at the start, the held-out NLL per token of each
run, of the media run with its held-out inputs blanked (the paired probe), and the ratio
media / text-only (< 1: the model uses its input).

    python benchmarks/videollama2_learns.py --steps 300    # ~5 min on 2 CPU cores
    python benchmarks/videollama2_learns.py --steps 350 --n-train 400 --init-std 0.02 --full-llm \
        --train-encoders --reinit --data /tmp/vl2-synth    # ~6 min; the best measured (docs/videollama2.md)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def synth(out: Path, n: int, seed: int) -> list[dict]:
    """The synthetic world's rows in ``out`` (made once: a ``--data`` folder is reused by later runs)."""
    if (out / "train.json").is_file() and len(json.loads((out / "train.json").read_text())) == n:
        return json.loads((out / "train.json").read_text())
    subprocess.run([sys.executable, "-c", "from avcap.cli import main; main()", "synth", "dataset", str(out), "--n", str(n), "--seed", str(seed),
                    "--size", "64", "--fps", "8", "--min-duration", "4", "--max-duration", "6", "--no-speech",
                    "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "train.json").read_text())


def blank(clip):
    return replace(clip, frames=np.zeros_like(clip.frames), audio=np.zeros_like(clip.audio))


def examples(rows, root: Path, policy, blanked: bool):
    from avcap.media import load_clip
    from avcap.models import TrainExample

    out = []
    for row in rows:
        clip = load_clip(root / row["video"], policy=policy)
        prompt = row["conversations"][0]["value"].replace("<video>", "").strip()
        out.append(TrainExample(blank(clip) if blanked else clip, prompt, row["conversations"][1]["value"]))
    return out


def nll(policy, batch: list) -> torch.Tensor:
    logps, counts = policy(batch)
    return -(logps.sum() / counts.sum())


@torch.no_grad()
def heldout_nll(policy, data: list, size: int = 8) -> float:
    total, tokens = 0.0, 0
    for i in range(0, len(data), size):
        logps, counts = policy(data[i:i + size])
        total, tokens = total - float(logps.sum()), tokens + int(counts.sum())
    return total / tokens


def miniature(root: Path, init_std: float | None, reinit: bool) -> str:
    """``tiny:videollama2-av``, or the same miniature re-initialised: LLM weights of std ``init_std``
    (the test miniature uses 0.2 so that random outputs differ per clip; 0.02 is the usual LLM init)
    and, with ``reinit``, towers / connector / projector by ``reinit_for_training`` (fan-in, gains)."""
    if init_std is None and not reinit:
        return "tiny:videollama2-av"
    from avcap.models.tiny import tiny_path
    from avcap.models.videollama2 import VideoLLaMA2Model, spec_from_config
    from avcap.models.videollama2_checkpoints import save_official
    from avcap.models.videollama2_tiny import reinit_for_training

    folder = root / "model"
    if not folder.exists():
        import shutil

        shutil.copytree(tiny_path("tiny:videollama2-av"), folder)
        config = json.loads((folder / "config.json").read_text())
        if init_std is not None:
            config["initializer_range"] = init_std
        (folder / "config.json").write_text(json.dumps(config))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = VideoLLaMA2Model(spec_from_config(config, folder))
            if init_std is None:  # keep the shipped LLM
                from avcap.models import load_captioner

                model.llm.load_state_dict(load_captioner("tiny:videollama2-av").model.llm.state_dict())
            if reinit:
                reinit_for_training(model)
            else:  # keep the shipped towers
                from avcap.models import load_captioner

                shipped = load_captioner("tiny:videollama2-av").model
                for name in ("vision", "connector", "audio_encoder", "audio_projector"):
                    getattr(model, name).load_state_dict(getattr(shipped, name).state_dict())
            save_official(model, folder)
    return str(folder)


@torch.no_grad()
def input_dependence(model, processor, clips: list) -> dict:
    """Relative L2 change of each stage's output between clips and their blanked copies (and between
    two different clips): how much of what reaches the LLM depends on the input at all."""
    def stages(batch):
        feats = model.vision(pixel_values=batch.pixel_values.to(model.dtype), output_hidden_states=True).hidden_states
        out = {"vision_tower": feats[model.spec.select_layer],
               "stc_connector": torch.stack(model.video_features(batch.pixel_values, batch.frames_per_clip))}
        if model.audio_encoder is not None:
            out["beats"] = model.audio_encoder(batch.fbank.to(model.dtype))
            out["audio_projector"] = model.audio_projector(out["beats"])
        return out

    real = stages(processor(clips, ["Describe."] * len(clips)))
    blanked = stages(processor([blank(c) for c in clips], ["Describe."] * len(clips)))
    n = len(clips)
    report = {}
    for name, x in real.items():
        y = blanked[name]
        x, y = x.reshape(n, -1), y.reshape(n, -1)  # one row per clip (the tower's frames too)
        report[name] = {"clip_vs_blank": round(float((x - y).norm() / y.norm()), 4),
                        "clip_vs_other_clip": round(float((x[:-1] - x[1:]).norm() / x[1:].norm()), 4)}
    return report


def train(train_data, args) -> tuple:
    from avcap.models import load_captioner
    from avcap.train.configs import LoraArgs
    from avcap.train.policy import PolicyModule, param_group

    torch.manual_seed(args.seed)
    cap = load_captioner(args.model)
    scratch = ["visual_aligner"] + (["visual_encoder", "audio_encoder"] if args.train_encoders else [])
    lora = None if args.full_llm else LoraArgs(r=args.lora_r, alpha=2.0, dropout=0.0)
    policy = PolicyModule.build(cap, lora=lora, train_aligner=True, seed=args.seed,
                                full_groups=tuple(scratch + (["llm"] if args.full_llm else [])))
    params = [p for p in policy.parameters() if p.requires_grad]
    # The from-scratch parts (connector, projector, encoders) may learn faster than the LLM / its LoRA.
    fast = {id(p) for g in scratch + ["audio_aligner"] for p in param_group(cap, g)}
    groups = [{"params": [p for p in params if id(p) not in fast], "scale": 1.0},
              {"params": [p for p in params if id(p) in fast], "scale": args.scratch_lr_mult}]
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=args.lr, weight_decay=0.0)
    rng = np.random.default_rng(args.seed)
    curve, t0 = [], time.time()
    policy.train()
    for step in range(args.steps):
        batch = [train_data[i] for i in rng.choice(len(train_data), args.batch, replace=False)]
        loss = nll(policy, batch)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for group in opt.param_groups:  # linear warm-up over 5 %, then constant
            group["lr"] = args.lr * group["scale"] * min(1.0, (step + 1) / max(1, args.steps // 20))
        opt.step()
        if step % 25 == 0 or step == args.steps - 1:
            curve.append((step, round(float(loss.detach()), 4)))
    policy.eval()
    return policy, curve, time.time() - t0


def cache_fbank() -> None:
    """Benchmark-only speed-up: the same clips come back every epoch, so their fbank is computed once
    (identical values; the processor calls ``avcap.models.fbank.kaldi_fbank``)."""
    import hashlib

    import avcap.models.fbank as fbank

    compute, cache = fbank.kaldi_fbank, {}

    def cached(wave, *a, **k):
        key = hashlib.sha1(wave.numpy().tobytes()).hexdigest()
        if key not in cache:
            cache[key] = compute(wave, *a, **k)
        return cache[key]

    fbank.kaldi_fbank = cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--lora-r", type=int, default=32)
    parser.add_argument("--n-train", type=int, default=96)
    parser.add_argument("--n-heldout", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-std", type=float, default=None,
                        help="re-initialise the miniature's LLM with this std (default: the test miniature's 0.2)")
    parser.add_argument("--reinit", action="store_true",
                        help="re-initialise towers, connector and projector for training from scratch "
                             "(avcap.models.videollama2_tiny.reinit_for_training: fan-in, zero biases)")
    parser.add_argument("--train-encoders", action="store_true",
                        help="train the (random-init, not pretrained) SigLIP and BEATs in full too")
    parser.add_argument("--full-llm", action="store_true", help="train the LLM in full instead of a LoRA")
    parser.add_argument("--scratch-lr-mult", type=float, default=1.0,
                        help="learning-rate multiplier for the from-scratch parts (connector, projector, encoders)")
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the synthetic clips in this folder and reuse them in later runs (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here too")
    args = parser.parse_args()
    cache_fbank()
    from avcap.models import load_captioner

    with tempfile.TemporaryDirectory(prefix="vl2-learns-") as tmp:
        root = Path(tmp)
        args.model = miniature(root, args.init_std, args.reinit)
        data_root = args.data or root
        train_rows = synth(data_root / f"train{args.n_train}", args.n_train, 101)
        held_rows = synth(data_root / f"heldout{args.n_heldout}", args.n_heldout, 202)
        frame_policy = load_captioner("tiny:videollama2-av").frame_policy
        data = {name: examples(rows, data_root / split, frame_policy, blanked)
                for name, rows, split, blanked in (("train", train_rows, f"train{args.n_train}", False),
                                                   ("train_blank", train_rows, f"train{args.n_train}", True),
                                                   ("held", held_rows, f"heldout{args.n_heldout}", False),
                                                   ("held_blank", held_rows, f"heldout{args.n_heldout}", True))}
        start = load_captioner(args.model)
        dependence = input_dependence(start.model, start.processor, [e.clip for e in data["held"][:4]])
        media, media_curve, media_s = train(data["train"], args)
        text, text_curve, text_s = train(data["train_blank"], args)
        report = {
            "baseline": "text-only prior: the same model and training on blanked clips (black frames, silence)",
            "model": "tiny:videollama2-av" + (f", LLM re-initialised with std {args.init_std}" if args.init_std else "")
                     + (", towers/connector/projector by reinit_for_training" if args.reinit else ""),
            "trains": ("LLM in full" if args.full_llm else f"LoRA r={args.lora_r}") + ", connector, projector"
                      + (", SigLIP and BEATs in full" if args.train_encoders else " (encoders frozen)"),
            "steps": args.steps, "batch": args.batch, "lr": args.lr, "scratch_lr_mult": args.scratch_lr_mult,
            "input_dependence_at_start": dependence,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "train_rows": len(train_rows), "heldout_rows": len(held_rows),
            "heldout_nll_media": round(heldout_nll(media, data["held"]), 4),
            "heldout_nll_media_inputs_blanked": round(heldout_nll(media, data["held_blank"]), 4),
            "heldout_nll_text_only_prior": round(heldout_nll(text, data["held_blank"]), 4),
            "train_seconds": {"media": round(media_s, 1), "text_only": round(text_s, 1)},
            "curves": {"media": media_curve, "text_only": text_curve},
        }
        report["ratio_media_vs_text_only"] = round(report["heldout_nll_media"] / report["heldout_nll_text_only_prior"], 4)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
