"""``avcap pairs``: build preference pairs -- ``negatives`` (Tarsier2's corrupted-video negatives), ``stats``."""

from __future__ import annotations

from pathlib import Path

import typer

from avcap.models.registry import BACKENDS

NEGATIVES_HELP = """Tarsier2's preference candidates: per video, a caption of the clean clip and one of a corrupted clip, both scored with AutoDQ.

For each row of --data (the SFT training set: videos with reference descriptions) the model samples a caption y of the video and a caption ỹ of a corrupted copy: one of clip-switching (4 segments, 2 swapped), clip-reversing (a window of 50-100 % of the frames reversed), clip-cropping (N frames resampled from a shorter span) or down-sampling (half the frames dropped), drawn uniformly and seeded per video; the kind and its parameters are recorded in the row. AutoDQ scores both against the reference, and eq. 1's filter (ΔDQ_R >= 0, ΔDQ_P >= 0, ΔDQ_R + ΔDQ_P >= δ) is recorded. `avcap train negdpo --data OUT --media_root DATA_DIR` trains vanilla DPO on the kept pairs, scoring y and ỹ on the clean clip (DATA_DIR: where the rows' videos lie, which the training confines them to).

--crop release (default) resamples about 3/4 of the span, as the released code (bytedance/tarsier) does; --crop paper uses half the duration, as the paper writes. The release is the default because its code is what built the published preference data. --second-sample also samples y' of the clean clip, for the paper's "w/o negative sampling" ablation.

\b
Examples:
  avcap pairs negatives --data runs/nano/data/dpo/train.json --model builtin:nano \\
      --judge symbolic --max-new-tokens 128 --second-sample --out pairs.jsonl
  avcap pairs negatives --data train.json --model ./tarsier2-sft --judge openai \\
      --judge-model gpt-4.1 --out pairs.jsonl
  avcap pairs stats pairs.jsonl

\b
Files: OUT (one row per video: the dataset row, "candidates", "corruption", "autodq",
"filter"), OUT's .samples.jsonl (the sampled captions), .stats.json (kept pairs per
corruption kind, mean ΔP / ΔR) and, for an LLM judge, .judge_cache.sqlite.

Re-running the same command resumes: sampled videos are not sampled again, scored ones not judged again; rows that ended in an error are retried. Exit status: 0 all videos done, 1 some failed (their rows carry a one-line "error"), 2 bad arguments or setup.
"""

STATS_HELP = """Pair statistics of a pairs file from `avcap pairs negatives`: kept pairs per corruption kind, mean ΔP / ΔR.

\b
Example:
  avcap pairs stats pairs.jsonl --delta 0.3
"""


def _progress(enabled: bool, total: int, what: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), disable=not enabled or total == 0)
    task = bar.add_task(what, total=total)
    return bar, lambda n: bar.advance(task, n)


def negatives_cmd(
    data: Path = typer.Option(..., "--data", help="Training rows (.json/.jsonl) with videos and reference captions."),
    model: str = typer.Option(..., "--model", "-m", help="The policy: hub id, checkpoint folder, builtin:nano, tiny:<name>."),
    out: Path = typer.Option(Path("pairs.jsonl"), "--out", "-o", help="Pairs file (JSONL; resumed if it exists)."),
    crop: str = typer.Option("release", "--crop", help="Clip-cropping span: release (~3/4, default) or paper (half)."),
    second_sample: bool = typer.Option(False, "--second-sample/--no-second-sample",
                                       help="Also sample a second clean caption (the w/o negative sampling ablation)."),
    temperature: float = typer.Option(0.7, help="Sampling temperature (Tarsier2: 0.7)."),
    top_p: float = typer.Option(0.7, "--top-p", help="Nucleus sampling mass (Tarsier2: 0.7)."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", help="Caption length limit (Tarsier2 release: 512)."),
    seed: int = typer.Option(0, help="Seed of the corruptions and of sampling."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", help="Videos per generate call."),
    prompt: str = typer.Option(None, help="Instruction for every video (default: the row's, else the model's)."),
    prompt_preset: str = typer.Option(None, "--prompt-preset", help="Named prompt: default, tarsier2, tarsier2-grounded, ..."),
    frames: str = typer.Option(None, "--frames", help="Frame sampling policy; default: the model's own."),
    judge: str = typer.Option("openai", "--judge",
                              help="AutoDQ judge: symbolic (synthetic world, exact), openai, hf, scripted, module:factory."),
    judge_model: str = typer.Option(None, "--judge-model", help="Judge model name (openai) or folder (hf)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL."),
    judge_cache: Path = typer.Option(None, "--judge-cache", help="Judge SQLite cache (default: beside OUT)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge calls in flight."),
    delta: float = typer.Option(0.3, "--delta", help="Filter threshold δ recorded in each row (Tarsier2: 0.3)."),
    backend: str = typer.Option("auto", help="Model family: " + ", ".join(BACKENDS) + " (auto reads config.json)."),
    device: str = typer.Option("auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option("auto", help="auto, bf16, fp16, fp32."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    media_root: Path = typer.Option(None, "--media-root",
                                    help="Folder that rows' video/audio paths must lie in (default: the dataset "
                                         "file's folder)."),
    allow_outside_paths: bool = typer.Option(False, "--allow-outside-paths",
                                             help="Let rows name media anywhere (only for datasets you trust)."),
) -> None:
    import gc

    from avcap.cli.console import echo_capped
    from avcap.data import load_dataset
    from avcap.data.lock import OutputLock
    from avcap.errors import AvcapError, ConfigError
    from avcap.models.captioning import resolve_prompt
    from avcap.train.autodq_scoring import make_autodq_scorer, scorer_name
    from avcap.train.configs import ScorerArgs
    from avcap.train.negatives import (
        NegativeSamplingArgs,
        sample_candidates,
        score_candidates,
        side_paths,
        write_stats,
    )

    samples_path, stats_path = side_paths(out)
    try:
        args = NegativeSamplingArgs(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, crop=crop,
                                    second_sample=second_sample, batch_size=batch_size, seed=seed,
                                    prompt=resolve_prompt(prompt, prompt_preset), frames=frames, delta=delta)
        if frames is not None:
            from avcap.media import get_policy

            get_policy(frames)
        cache = judge_cache or samples_path.with_name(samples_path.name.replace(".samples.jsonl", ".judge_cache.sqlite"))
        scorer_args = ScorerArgs(kind="symbolic" if judge == "symbolic" else "judge", backend=judge, model=judge_model,
                                 base_url=judge_base_url, cache=str(cache), concurrency=concurrency)
        scorer = make_autodq_scorer(scorer_args, out.parent)
        dataset = load_dataset(data, media_root=media_root, allow_outside_paths=allow_outside_paths)
    except (ConfigError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    echo_capped("skipped row", [str(bad) for bad in dataset.errors])
    if not dataset.rows:
        typer.echo(f"error: {data}: no valid rows", err=True)
        raise typer.Exit(code=2)
    rows = dataset.rows
    try:
        from transformers.utils import logging as hf_logging

        from avcap.models import load_captioner

        hf_logging.disable_progress_bar()
        with OutputLock(out, what="pairs file"):  # one writer: a second process would duplicate rows
            captioner = load_captioner(model, backend=backend, device=device,
                                       dtype=None if dtype == "auto" else dtype)
            bar, advance = _progress(progress, len(rows), "sampling")
            with bar:
                sampled = sample_candidates(captioner, rows, samples_path, args, progress=advance)
            del captioner
            gc.collect()
            bar, advance = _progress(progress, len(rows), "judging")
            with bar:
                scored, failed = score_candidates(rows, samples_path, out, scorer, scorer_name(scorer), delta,
                                                  advance)
            stats = write_stats(out, samples_path, stats_path, len(rows), delta, crop)
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{out}: {sampled.sampled} videos sampled ({sampled.skipped} already), {scored} scored, "
               f"{sampled.failed + failed} failed this run")
    typer.echo(format_stats(stats))
    if stats["failed_sampling"] or stats["failed_judging"] or dataset.errors:
        echo_capped("failed", stats["failures"])
        raise typer.Exit(code=1)


def format_stats(stats: dict) -> str:
    """A small table: candidates, kept pairs, yield and mean ΔP / ΔR per corruption kind."""
    def pct(x):
        return "-" if x is None else f"{x:+.3f}"

    lines = [f"AutoDQ filter δ = {stats['delta']}: {stats['scored']} videos scored"]
    for name, s in stats.get("mean_autodq", {}).items():
        lines.append(f"  {name:<10} P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}")
    lines.append(f"  {'pairs':<16}{'candidates':>10}{'kept':>6}{'yield':>8}{'mean ΔP':>9}{'mean ΔR':>9}")
    rows = []
    if "negative" in stats:
        rows += [(f"  {kind}", s) for kind, s in stats["negative"]["per_kind"].items()]
        rows.append(("corrupted (all)", stats["negative"]))
    if "second" in stats:
        rows.append(("second sample", stats["second"]))
    for label, s in rows:
        lines.append(f"  {label:<16}{s['candidates']:>10}{s['kept']:>6}{s['yield']:>8.1%}"
                     f"{pct(s['mean_delta_p']):>9}{pct(s['mean_delta_r']):>9}")
    return "\n".join(lines)


def stats_cmd(
    pairs: Path = typer.Argument(..., help="A pairs file from `avcap pairs negatives`."),
    delta: float = typer.Option(0.3, "--delta", help="Filter threshold δ (Tarsier2: 0.3)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    import json

    from avcap.errors import AvcapError
    from avcap.train.negatives import read_pairs
    from avcap.train.negpairs import pair_statistics

    if not pairs.is_file():
        typer.echo(f"error: {pairs}: no such file", err=True)
        raise typer.Exit(code=2)
    try:
        ok, errors = read_pairs(pairs)
        stats = pair_statistics(ok, delta)
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    stats["failed"] = len(errors)
    typer.echo(json.dumps(stats, indent=2) if as_json else format_stats(stats))


def register(app: typer.Typer) -> None:
    pairs_app = typer.Typer(help="Build preference pairs: negatives (Tarsier2), stats.", no_args_is_help=True)
    pairs_app.command("negatives", help=NEGATIVES_HELP, no_args_is_help=True)(negatives_cmd)
    pairs_app.command("stats", help=STATS_HELP, no_args_is_help=True)(stats_cmd)
    app.add_typer(pairs_app, name="pairs")
