"""``avcap media``: inspect videos the way the captioners will see them."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from avcap.media.policies import POLICY_HELP

_POLICY_LINES = "\n".join(f"  {name:<12} {text}" for name, text in POLICY_HELP.items())

media_app = typer.Typer(
    help="Inspect videos as the captioners will see them: frames sampled, sizes, audio chunks.",
    no_args_is_help=True,
)


def _abbreviate(times: list[float], keep: int = 4) -> str:
    shown = [f"{t:.2f}" for t in times]
    if len(shown) > 2 * keep:
        shown = shown[:keep] + ["..."] + shown[-keep:]
    return "[" + ", ".join(shown) + "]"


def _describe(report) -> str:
    meta = report.meta
    src = (
        f"{meta['codec']} {meta['width']}x{meta['height']}"
        + (f" rot {meta['rotation']}" if meta["rotation"] else "")
        + f" @ {meta['fps']:.3g} fps, {report.duration_s:.2f} s"
    )
    audio = (
        f"audio {meta['audio_codec']} {meta['audio_rate_hz']} Hz x{meta['audio_channels']}"
        if report.has_audio
        else "no audio (zeros)"
    )
    return (
        f"{report.path}: {src}; {report.num_frames} frames {_abbreviate(report.frame_times)} s "
        f"-> {report.width}x{report.height}; {audio}, {report.audio_chunks} x 30 s chunk(s) "
        f"[{report.policy}]"
    )


@media_app.command("probe", help=f"""Show what would be sampled from each FILE, without decoding the video.

For every file (a folder means every video in it, recursively): the frames a captioner would see (count, times in seconds, size after resize) and the audio (16 kHz mono in 30 s Whisper chunks; zeros when the video has none). A file that cannot be used prints one line "FILE: cause"; the others are still processed and the exit status is 1.

\b
Examples:
  avcap synth sample clip.mp4 && avcap media probe clip.mp4
  avcap media probe videos/ --frames tarsier2 --json > plan.json
  avcap media probe long.mp4 --frames omni --fps 1 --max-frames 64

\b
Frame policies (--frames):
{_POLICY_LINES}
""")
def probe_cmd(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Video files or folders of videos to inspect.",
                                       show_default=False),
    frames: str = typer.Option("salmonn2", "--frames", help="Frame sampling policy: " + ", ".join(POLICY_HELP) + "."),
    fps: float = typer.Option(None, help="Override the policy's frame rate (salmonn2, omni, qwen-vl)."),
    max_frames: int = typer.Option(None, "--max-frames", help="Override the frame cap (salmonn2, omni, qwen-vl)."),
    num_frames: int = typer.Option(None, "--num-frames", help="Override the frame count (tarsier2, videollama2)."),
    size: int = typer.Option(None, help="Override the frame size (salmonn2: short side; videollama2: square side)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array: reports, or {path, error} for failures."),
) -> None:
    from avcap.cli.console import printable
    from avcap.errors import ConfigError, MediaError
    from avcap.media import get_policy, probe
    from avcap.media.files import find_videos

    try:
        policy = get_policy(frames, fps=fps, max_frames=max_frames, num_frames=num_frames, size=size)
    except ConfigError as err:
        raise typer.BadParameter(str(err), param_hint="--frames") from err
    failed = 0
    results = []
    expanded: list[Path] = []
    for path in files:
        if path.is_dir():
            found = find_videos(path)
            if not found:
                typer.echo(f"{printable(path)}: a folder with no video files", err=True)
            expanded += found
        else:
            expanded.append(path)
    for path in expanded:
        try:
            report = probe(path, policy)
        except MediaError as err:
            failed += 1
            results.append({"path": str(path), "error": err.cause})
            if not as_json:
                typer.echo(printable(err), err=True)
            continue
        results.append(report.to_dict())
        if not as_json:
            typer.echo(_describe(report))
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if failed or not expanded:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.add_typer(media_app, name="media")
