"""``avcap demo``: the built-in default job, offline, on generated videos.

Until the shipped nano captioner lands (issue 7), the demo covers the media path every
captioner uses: it writes a few synthetic audio-visual videos with exact ground truth,
probes them under the video-SALMONN 2 policy and decodes them into model-ready clips.
"""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the generated videos and dataset."),
    n: int = typer.Option(3, "--n", min=1, max=50, help="How many videos to generate."),
    seed: int = typer.Option(0, help="Seed of the synthetic world."),
    frames: str = typer.Option("salmonn2", "--frames", help="Frame sampling policy to show."),
) -> None:
    """Generate a few synthetic videos, probe them and decode them as a captioner would."""
    import numpy as np

    from avcap.data import load_dataset
    from avcap.errors import AvcapError
    from avcap.media import load_clip, probe
    from avcap.synth.dataset import DatasetConfig, build_dataset
    from avcap.synth.world import WorldConfig

    try:
        summary = build_dataset(
            DatasetConfig(out=out, n=n, seed=seed, world=WorldConfig(speech=False), name="demo.json"), progress=False
        )
        dataset = load_dataset(out / "demo.json", strict=True)
    except AvcapError as err:
        typer.echo(f"demo: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"1. wrote {len(dataset.rows)} synthetic videos with exact ground truth to {out}/ "
               f"({summary.n_rendered} rendered, {summary.n_kept} kept from an earlier run)")
    typer.echo(f"2. what the '{frames}' policy samples, and the decoded clip:")
    for row in dataset.rows:
        report = probe(row.video, frames)
        clip = load_clip(row.video, frames)
        rms = float(np.sqrt(np.mean(clip.audio**2))) if clip.audio.size else 0.0
        typer.echo(
            f"   {row.id}: {report.duration_s:.1f} s, {clip.num_frames} frames {tuple(clip.frames.shape[1:3])} "
            f"at {', '.join(f'{t:.1f}' for t in clip.frame_times[:4])}{' ...' if clip.num_frames > 4 else ''} s; "
            f"audio {clip.audio.size / clip.sample_rate_hz:.1f} s @ 16 kHz (rms {rms:.3f}), "
            f"{report.audio_chunks} Whisper chunk(s); {len(row.events or [])} ground-truth events"
        )
    first = dataset.rows[0]
    typer.echo(f"3. ground truth of {first.id}: {first.reference}")
    typer.echo(
        "next: `avcap caption <video> --model tiny:salmonn2 --out captions.jsonl`, "
        "`avcap eval --help`, `avcap media probe --help`"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
