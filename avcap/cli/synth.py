"""``avcap synth``: generate videos with known content."""

from __future__ import annotations

from pathlib import Path

import typer

synth_app = typer.Typer(help="Generate synthetic videos with known content (offline test material).", no_args_is_help=True)


@synth_app.command("sample")
def sample(
    out: Path = typer.Argument(..., help="Output video path (.mp4 or .mkv)."),
    duration_s: float = typer.Option(4.0, "--duration", help="Length in seconds."),
    fps: float = typer.Option(12.0, help="Frames per second."),
    width: int = typer.Option(160, help="Frame width in pixels (even)."),
    height: int = typer.Option(120, help="Frame height in pixels (even)."),
    audio_rate_hz: int = typer.Option(16_000, "--audio-rate", help="Audio sample rate in Hz; 0 writes no audio stream."),
    stereo: bool = typer.Option(False, help="Write two audio channels."),
    seed: int = typer.Option(0, help="Seed for the noise bursts."),
) -> None:
    """Write a short video: a square crossing the frame, a tone then noise bursts.

    \b
    Examples:
      avcap synth sample clip.mp4
      avcap synth sample silent.mp4 --audio-rate 0 --duration 10
      avcap synth sample wide.mkv --width 640 --height 360 --fps 30 --stereo
    """
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    try:
        spec = SampleVideoSpec(
            duration_s=duration_s, fps=fps, width=width, height=height,
            audio_rate_hz=audio_rate_hz or None, audio_channels=2 if stereo else 1, seed=seed,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    path = write_sample_video(out, spec)
    typer.echo(f"wrote {path} ({duration_s:g} s, {width}x{height} @ {fps:g} fps, "
               f"{'no audio' if not audio_rate_hz else f'{audio_rate_hz} Hz audio'})")


@synth_app.command("dataset")
def dataset(
    out: Path = typer.Argument(..., help="Output folder: videos go to OUT/videos/, rows to OUT/NAME."),
    n: int = typer.Option(2000, "--n", help="Number of videos."),
    seed: int = typer.Option(0, help="Seed: the same seed writes the same scripts and byte-identical JSON."),
    min_duration_s: float = typer.Option(4.0, "--min-duration", help="Shortest video, seconds."),
    max_duration_s: float = typer.Option(8.0, "--max-duration", help="Longest video, seconds."),
    size: int = typer.Option(128, help="Frame side in pixels (square, even)."),
    fps: int = typer.Option(12, help="Frames per second (integer)."),
    speech: bool | None = typer.Option(
        None, "--speech/--no-speech",
        help="Spoken words via espeak-ng. Default: on when espeak-ng is installed, off otherwise."),
    workers: int = typer.Option(1, help="Processes rendering videos in parallel."),
    name: str = typer.Option("train.json", help="Dataset file name (.json list or .jsonl)."),
    prompt: str | None = typer.Option(None, help='Prompt of each row (default "Describe the video in detail.").'),
    qa: int = typer.Option(3, "--qa", help="Multiple-choice QA items per video."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Write a synthetic audio-visual dataset with exact ground truth (captions, events, scripts, QA).

    Re-running the same command keeps videos already rendered from the same scripts.

    \b
    Examples:
      avcap synth dataset synth/ --n 200 --seed 3
      avcap synth dataset small/ --n 16 --no-speech --name rows.jsonl --workers 2
      avcap caption small/rows.jsonl -m builtin:nano -o caps.jsonl
      avcap eval --data small/rows.jsonl --captions caps.jsonl --judge symbolic --out report/
    """
    from avcap.errors import AvcapError
    from avcap.synth.audio import espeak_available
    from avcap.synth.dataset import DatasetConfig, build_dataset
    from avcap.synth.language import DEFAULT_PROMPT
    from avcap.synth.world import WorldConfig

    use_speech = espeak_available() if speech is None else speech
    try:
        config = DatasetConfig(
            out=out, n=n, seed=seed, name=name, prompt=prompt or DEFAULT_PROMPT, qa_per_video=qa,
            workers=workers,
            world=WorldConfig(min_duration_s=min_duration_s, max_duration_s=max_duration_s, size=size,
                              fps=fps, speech=use_speech),
        )
        summary = build_dataset(config, progress=progress)
    except AvcapError as err:
        typer.echo(f"avcap synth dataset: {err}", err=True)
        raise typer.Exit(2) from err
    speech_note = "spoken words by espeak-ng" if summary.speech else "no speech (espeak-ng not used)"
    typer.echo(f"wrote {summary.path} ({n} videos: {summary.n_rendered} rendered, {summary.n_kept} kept; "
               f"{speech_note}; {summary.seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
