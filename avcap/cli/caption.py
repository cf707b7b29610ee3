"""``avcap caption``: caption videos, folders or dataset files into a resumable captions.jsonl."""

from __future__ import annotations

from pathlib import Path

import typer

from avcap.media.policies import POLICY_HELP
from avcap.models.registry import BACKENDS, DEFAULT_MODEL

_POLICIES = ", ".join(POLICY_HELP)

HELP = f"""Caption videos with an audio-visual (or visual-only) model, one JSONL row each.

INPUT is any mix of video files, folders (searched recursively for videos) and dataset files (.json list or .jsonl rows in the video-SALMONN 2 format: "video", optional "id", "audio", "conversations"). The prompt is --prompt / --prompt-preset if given, else a dataset row's own prompt, else the model's default.

\b
Examples:
  avcap caption clip.mp4 --model builtin:nano       # the shipped nano model, offline
  avcap caption clip.mp4 --model tiny:omni          # offline miniature
  avcap caption videos/ -o captions.jsonl -b 8      # default model
  avcap caption clip.mp4 -m ./lora_adapter --base-model ./base_ckpt
  avcap caption long.mp4 --max-frames 256 --max-pixels 100000
  avcap caption test.json -m AVoCaDO-Captioner/AVoCaDO
  avcap caption videos/ -m ./ckpt --prompt-preset tarsier2-grounded
  avcap caption train.jsonl --temperature 1 -n 8 --seed 0 -o samples.jsonl
  avcap caption videos/ --engine ray -m builtin:nano --replicas 2
  avcap caption videos/ --engine ray --address auto --num-gpus-per-replica 1 --replicas 8

\b
Models (--model): a model-hub id, a checkpoint folder, a PEFT adapter
(folder or hub id with adapter_config.json, loaded on its base), the shipped
builtin:nano, or a miniature:
  tiny:salmonn2  tiny:salmonn2-v1  tiny:omni (Qwen2.5-Omni thinker)
  tiny:qwen3-omni  tiny:qwen2-vl  tiny:qwen2.5-vl  tiny:qwen3-vl
  tiny:tarsier2
The family is read from config.json (--backend auto). Default model:
{DEFAULT_MODEL} (video-SALMONN 2+ 7B; also _3B_full, _72B_full).
Each model is fed as its authors run it (frames, pixels, prompt, length,
layout; docs/parity.md); --fps, --max-frames, --max-pixels, --interleave
and --positions change that.

\b
Output (--out): rows appended and flushed one at a time:
  {{"id", "video", "caption", "model", "generation", "seconds",
   "error", "sample", "audit"}}
"audit" says what the model received: has_audio_stream, audio_seconds_fed, video_seconds_fed, frames, audio_tokens, visual_tokens, frames_capped, pixels_reduced, audio_cut, truncated, resampled, no_audio_fed, policy. A warning names videos fed no audio although they have sound, or cut by the frame cap or an audio limit.

\b
Engines (--engine): local batches on one device in this process; ray runs a Ray Data pipeline (CPU decode tasks, --replicas captioner actors, one writer here) on a local Ray it starts, or on a cluster (--address / RAY_ADDRESS after `ray start --head`). Same rows, same resume.

Re-running the same command resumes: finished (id, sample) rows are skipped; rows that ended in an error (e.g. an unreadable video) are removed and retried. A failing video never stops the run; its row carries a one-line "error". Exit status: 0 all captioned, 1 some videos failed, 2 bad arguments or model.
"""


def caption_cmd(
    inputs: list[Path] = typer.Argument(..., metavar="INPUT...", help="Video files, folders or dataset files (.json/.jsonl).",
                                        show_default=False),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Hub id, local checkpoint folder, or tiny:<name>."),
    out: Path = typer.Option(Path("captions.jsonl"), "--out", "-o", help="Captions file (JSONL; resumed if it exists)."),
    backend: str = typer.Option("auto", help="Model family: " + ", ".join(BACKENDS) + " (auto reads config.json)."),
    prompt: str = typer.Option(None, help="Instruction for every video (overrides dataset prompts)."),
    prompt_preset: str = typer.Option(None, "--prompt-preset",
                                      help="Named prompt: default, salmonn2, salmonn2-v1, avocado, tarsier2, "
                                           "tarsier2-grounded."),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Videos per generate call (left-padded, KV cache)."),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", show_default="the model's own",
                                       help="Caption length limit in tokens (video-SALMONN 2: 1024, AVoCaDO: 2048, "
                                            "Tarsier2: 512)."),
    temperature: float = typer.Option(0.0, help="0 = greedy decoding; > 0 samples."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (with --temperature > 0)."),
    repetition_penalty: float = typer.Option(1.0, "--repetition-penalty", help="1.0 = off."),
    num_samples: int = typer.Option(1, "--num-samples", "-n", help="Captions per video (needs --temperature > 0)."),
    seed: int = typer.Option(None, help="Random seed for sampling (reproducible for the same inputs and batch size)."),
    frames: str = typer.Option(None, "--frames", help=f"Frame sampling policy ({_POLICIES}); default: the model's own."),
    fps: float = typer.Option(None, "--fps", help="Frames per second of the frame policy (2+: 1 / interval).",
                              show_default="the policy's"),
    max_frames: int = typer.Option(None, "--max-frames", help="Most frames per video (Tarsier2: the frame count).",
                                   show_default="the policy's"),
    max_pixels: int = typer.Option(None, "--max-pixels", help="Pixel budget of one frame (2+: 61,250; AVoCaDO: 401,408).",
                                   show_default="the policy's"),
    interleave: str = typer.Option(None, "--interleave",
                                   help="First video-SALMONN 2 release: 'release' (its code, the default) or "
                                        "'paper' (eq. 4).", show_default="release"),
    positions: str = typer.Option(None, "--positions",
                                  help="video-SALMONN 2+ generation positions: 'release-inference' (its generate(), "
                                       "the paper's numbers; default) or 'training'.", show_default="release-inference"),
    adapter: str = typer.Option("merge", "--adapter", help="A PEFT adapter --model: 'merge' into the base (as the "
                                                           "release does) or 'keep' as LoRA layers."),
    base_model: str = typer.Option(None, "--base-model", help="Base checkpoint of an adapter --model (default: its "
                                                               "adapter_config.json base_model_name_or_path)."),
    device: str = typer.Option("auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, float32 on CPU), bf16, fp16, fp32."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar with ETA."),
    prefetch: bool = typer.Option(True, "--prefetch/--no-prefetch", help="Decode the next batch while generating."),
    mute_audio: bool = typer.Option(False, "--mute-audio",
                                    help="Replace each video's sound by silence (the audio-off ablation)."),
    force_new: bool = typer.Option(False, "--force-new",
                                   help="Start a new --out file even if the existing one was written with other "
                                        "settings (the old file is renamed to NAME.<time>.bak)."),
    media_root: Path = typer.Option(None, "--media-root",
                                    help="Folder that dataset rows' video/audio paths must lie in (default: the "
                                         "dataset file's folder)."),
    allow_outside_paths: bool = typer.Option(False, "--allow-outside-paths",
                                             help="Let dataset rows name media anywhere (only for datasets you trust)."),
    engine: str = typer.Option("local", "--engine",
                               help="local (this process, one device) or ray (Ray Data: CPU decode tasks -> "
                                    "captioner replicas; pip install 'avcap[ray]')."),
    replicas: int = typer.Option(1, "--replicas", help="--engine ray: captioner replicas (actors)."),
    num_gpus_per_replica: float = typer.Option(None, "--num-gpus-per-replica", show_default="1 with CUDA, else 0",
                                               help="--engine ray: GPUs per replica (0: CPU replicas)."),
    cpus_per_replica: float = typer.Option(1.0, "--cpus-per-replica",
                                           help="--engine ray: CPUs per replica (torch threads of a CPU replica)."),
    decode_workers: int = typer.Option(None, "--decode-workers", show_default="one per replica",
                                       help="--engine ray: concurrent decode tasks (CPU)."),
    address: str = typer.Option(None, "--address",
                                help="--engine ray: a running Ray cluster (`ray start --head`; default: RAY_ADDRESS, "
                                     "else a local Ray started for this run)."),
) -> None:
    from avcap.cli.console import echo_capped
    from avcap.engines import ENGINES, CaptionerSpec
    from avcap.errors import AvcapError, ConfigError
    from avcap.media import get_policy
    from avcap.models import GenerationConfig
    from avcap.models.captioning import CaptionRunConfig, collect_items, resolve_prompt

    try:
        generation = GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                      num_samples=num_samples, repetition_penalty=repetition_penalty, seed=seed)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    try:
        if frames is not None:
            get_policy(frames)
        if adapter not in ("merge", "keep"):
            raise ConfigError(f"--adapter {adapter!r}: choose merge or keep")
        if engine not in ENGINES:
            raise ConfigError(f"--engine {engine!r}: choose {' or '.join(ENGINES)}")
        ray_options = _ray_options(engine, replicas, num_gpus_per_replica, cpus_per_replica, decode_workers,
                                   address, device)
        run_prompt = resolve_prompt(prompt, prompt_preset)
        config = CaptionRunConfig(out=out, generation=generation, prompt=run_prompt, frames=frames,
                                  batch_size=batch_size, prefetch=prefetch, progress=progress,
                                  mute_audio=mute_audio, force_new=force_new)
        items, warnings = collect_items(inputs, media_root=media_root, allow_outside_paths=allow_outside_paths)
    except ConfigError as err:
        raise typer.BadParameter(str(err)) from err
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    echo_capped("warning", warnings)
    if not items:
        typer.echo("error: no videos to caption", err=True)
        raise typer.Exit(code=2)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one progress bar (ours), not one per weight file
    spec = CaptionerSpec(model=model, backend=backend, device=device, dtype=None if dtype == "auto" else dtype,
                         adapter=adapter, base_model=base_model, frames=frames, fps=fps, max_frames=max_frames,
                         max_pixels=max_pixels, interleave=interleave, positions=positions)
    try:
        if ray_options is None:
            from avcap.engines.local import run_local

            summary = run_local(spec, items, config)
        else:
            from avcap.engines.ray import run_ray

            summary = run_ray(spec, items, config, ray_options)
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    if summary.moved_aside is not None:
        typer.echo(f"--force-new: the previous captions were moved to {summary.moved_aside}", err=True)
    echo_capped("warning", summary.audit_warnings)  # the modality audit: sound not fed, inputs cut
    echo_capped("failed", [f"{item_id}: {cause}" for item_id, cause in summary.failures])
    typer.echo(f"{summary.out}: {summary.captioned} captioned, {summary.skipped} already done, "
               f"{summary.failed} failed ({summary.seconds:.1f} s)")
    if summary.failed:
        raise typer.Exit(code=1)


def _ray_options(engine: str, replicas: int, num_gpus: float | None, cpus: float, decode_workers: int | None,
                 address: str | None, device: str):
    """RayOptions for --engine ray (None for local; Ray flags given with the local engine are an error)."""
    from avcap.errors import ConfigError

    if engine != "ray":
        given = [flag for flag, value in (("--replicas", replicas != 1), ("--num-gpus-per-replica", num_gpus is not None),
                                          ("--decode-workers", decode_workers is not None),
                                          ("--address", address is not None)) if value]
        if given:
            raise ConfigError(f"{given[0]} applies to --engine ray")
        return None
    from avcap.engines.ray import RayOptions

    if num_gpus is None:
        import torch

        num_gpus = 1.0 if device != "cpu" and torch.cuda.is_available() else 0.0
    return RayOptions(replicas=replicas, num_gpus_per_replica=num_gpus, cpus_per_replica=cpus,
                      decode_workers=decode_workers, address=address)


def register(app: typer.Typer) -> None:
    app.command("caption", help=HELP, no_args_is_help=True)(caption_cmd)
