"""``avcap data``: AVoCaDO's data stages -- ``checklist`` (keypoints for R_C) and ``fuse`` (§3.1)."""

from __future__ import annotations

from pathlib import Path

import typer

CHECKLIST_HELP = """Per ground-truth caption, the five-dimension keypoint checklist of AVoCaDO (§3.2.2, Fig. 13).

The judge splits each row's ground-truth caption into atomic keypoints, each in one of Static Entity Description, Dynamic Action & Interaction, Auditory Elements, Spatio-temporal & Cinematography and Cross-modal Narrative Logic. Keypoints without one of these dimensions are dropped (repeats are kept and noted: the same happening at two times is two facts); a row with no valid keypoint fails. `avcap train grpo --rewards.checklists OUT` reads the file (R_C asks the judge which keypoints a sampled caption states correctly). In the synthetic world `--judge symbolic` answers exactly.

\b
Examples:
  avcap data checklist --data runs/nano/data/dpo/train.json --judge symbolic --out checklists.jsonl
  avcap data checklist --data train.json --judge openai --judge-model gpt-4o --out checklists.jsonl

\b
Files: OUT (one row per clip: id, keypoints [{dimension, text}], n_per_dimension, notes, or error)
and OUT's .judge_cache.sqlite unless --judge-cache.
Re-running resumes: rows already written are not asked again; rows that ended in an error are retried.
Exit status: 0 every row done, 1 some failed (their rows carry a one-line "error"), 2 bad arguments or setup.
"""

FUSE_HELP = """AVoCaDO's caption fusion (§3.1): a visual and an audio caption per clip fused into one temporally ordered audio-visual caption, scored 1-5 for completeness, kept at >= --min-score (paper: 4).

Captions come from --visual-captions / --audio-captions (JSONL with id and caption, e.g. `avcap caption` output), from the rows' "visual_caption" / "audio_caption" fields, or are made by --captioner (the muted video for the visual caption, the sound alone for the audio one). The fusing judge (--judge, the paper: Gemini-2.5-Pro) writes the fused caption; the scoring judge (--score-judge, default the same; the paper: GPT-4.1) grades it against both inputs.

\b
Examples:
  avcap data fuse --data clips.json --visual-captions visual.jsonl --audio-captions audio.jsonl \\
      --judge openai --judge-model gpt-4.1 --out fused.jsonl
  avcap data fuse --data clips.json --captioner builtin:nano --judge openai --judge-base-url http://127.0.0.1:8000/v1 --out fused.jsonl

\b
Files: OUT (one row per clip: id, visual_caption, audio_caption, caption, score, reason, kept, or error)
and OUT's .judge_cache.sqlite unless --judge-cache.
Re-running resumes: finished rows are kept, rows that ended in an error are retried.
Exit status: 0 every row done, 1 some failed, 2 bad arguments or setup.
"""


def _rows(data: Path, media_root, allow_outside_paths):
    from avcap.cli.console import echo_capped
    from avcap.data import load_dataset

    dataset = load_dataset(data, media_root=media_root, allow_outside_paths=allow_outside_paths)
    echo_capped("skipped row", [str(bad) for bad in dataset.errors])
    if not dataset.rows:
        typer.echo(f"error: {data}: no valid rows", err=True)
        raise typer.Exit(code=2)
    return dataset


JUDGE_HELP = "Judge backend: openai, hf, symbolic (synthetic world, exact), scripted, module:factory."


def checklist_cmd(
    data: Path = typer.Option(..., "--data", help="Rows (.json/.jsonl) with a ground-truth caption."),
    out: Path = typer.Option(Path("checklists.jsonl"), "--out", "-o", help="Checklists file (JSONL; resumed)."),
    judge: str = typer.Option("openai", "--judge", help=JUDGE_HELP),
    judge_model: str = typer.Option(None, "--judge-model", help="Judge model name (openai) or folder (hf)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL."),
    judge_cache: Path = typer.Option(None, "--judge-cache", help="Judge SQLite cache (default: beside OUT)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge calls in flight."),
    media_root: Path = typer.Option(None, "--media-root", help="Folder rows' media must lie in (default: the data file's)."),
    allow_outside_paths: bool = typer.Option(False, "--allow-outside-paths", help="Let rows name media anywhere."),
) -> None:
    from avcap.cli.console import echo_capped
    from avcap.errors import AvcapError
    from avcap.train.avocado_data import JudgeSetup, make_checklists

    dataset = _rows(data, media_root, allow_outside_paths)
    setup = JudgeSetup(judge, judge_model, judge_base_url, str(judge_cache) if judge_cache else None, concurrency)
    try:
        summary = make_checklists(dataset.rows, out, setup)
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{out}: {summary.done} checklists written ({summary.skipped} already), {len(summary.failed)} failed")
    echo_capped("failed", summary.failed)
    if summary.failed:
        raise typer.Exit(code=1)


def fuse_cmd(
    data: Path = typer.Option(..., "--data", help="Clips (.json/.jsonl): video rows, optionally with visual_caption / audio_caption."),
    out: Path = typer.Option(Path("fused.jsonl"), "--out", "-o", help="Fused captions (JSONL; resumed)."),
    visual_captions: Path = typer.Option(None, "--visual-captions", help="JSONL of visual captions (id, caption)."),
    audio_captions: Path = typer.Option(None, "--audio-captions", help="JSONL of audio captions (id, caption)."),
    captioner: str = typer.Option(None, "--captioner", help="avcap captioner that makes missing captions "
                                                             "(muted video / sound alone)."),
    judge: str = typer.Option("openai", "--judge", help="Fusing judge. " + JUDGE_HELP),
    judge_model: str = typer.Option(None, "--judge-model", help="Fusing judge model (openai) or folder (hf)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL."),
    score_judge: str = typer.Option(None, "--score-judge", help="Scoring judge backend (default: --judge)."),
    score_judge_model: str = typer.Option(None, "--score-judge-model", help="Scoring judge model."),
    judge_cache: Path = typer.Option(None, "--judge-cache", help="Judge SQLite cache (default: beside OUT)."),
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens", min=1, help="Caption length limit for --captioner."),
    min_score: int = typer.Option(4, "--min-score", min=1, max=5, help="Keep fused captions scoring at least this."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge calls in flight."),
    media_root: Path = typer.Option(None, "--media-root", help="Folder rows' media must lie in (default: the data file's)."),
    allow_outside_paths: bool = typer.Option(False, "--allow-outside-paths", help="Let rows name media anywhere."),
) -> None:
    from avcap.cli.console import echo_capped
    from avcap.errors import AvcapError
    from avcap.train.avocado_data import JudgeSetup, fuse_captions, read_captions

    dataset = _rows(data, media_root, allow_outside_paths)
    cache = str(judge_cache) if judge_cache else None
    setup = JudgeSetup(judge, judge_model, judge_base_url, cache, concurrency)
    scorer = None
    if score_judge or score_judge_model:
        scorer = JudgeSetup(score_judge or judge, score_judge_model or judge_model, judge_base_url, cache, concurrency)
    try:
        summary = fuse_captions(dataset.rows, out, setup, visual=read_captions(visual_captions),
                                audio=read_captions(audio_captions), scorer=scorer, min_score=min_score,
                                captioner=captioner, max_new_tokens=max_new_tokens)
    except AvcapError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{out}: {summary.done} clips fused and scored ({summary.kept} kept at >= {min_score}; "
               f"{summary.skipped} already), {len(summary.failed)} failed")
    echo_capped("failed", summary.failed)
    if summary.failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Data stages: checklist (AVoCaDO R_C keypoints), fuse (audio + visual captions).",
                           no_args_is_help=True)
    data_app.command("checklist", help=CHECKLIST_HELP, no_args_is_help=True)(checklist_cmd)
    data_app.command("fuse", help=FUSE_HELP, no_args_is_help=True)(fuse_cmd)
    app.add_typer(data_app, name="data")
