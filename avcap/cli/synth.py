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
    """Write a short video: a square crossing the frame, a tone then noise bursts."""
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


def register(app: typer.Typer) -> None:
    app.add_typer(synth_app, name="synth")
