"""The ``avcap`` command. Each verb lives in its own thin module that only parses and delegates.

Command modules import heavy libraries (torch, transformers, av) inside the command
functions so that ``avcap --help`` stays fast.
"""

from __future__ import annotations

import typer
import typer.core

from avcap import __version__
from avcap.cli import arena, bench, caption, data, demo, evaluate, media, pairs, synth, train


def _flag_type_hidden(display_type_rich):
    # Typer (0.2x) prints "<bool>" beside on/off flags such as --mute-audio, which reads as if
    # the flag took a value; show no type for flags. Other options keep theirs.
    def display(self, ctx):
        return None if getattr(self, "is_flag", False) else display_type_rich(self, ctx)

    return display


typer.core.TyperOption.display_type_rich = _flag_type_hidden(typer.core.TyperOption.display_type_rich)

app = typer.Typer(
    name="avcap",
    help=(
        "Detailed audio-visual video captioning.\n\n"
        "Caption videos with video-SALMONN 2, Qwen-Omni or Qwen-VL models, evaluate captions with "
        "LLM-judged event metrics (Miss%/Hall%), train captioners (SFT, DPO, MrDPO), and rank them.\n\n"
        "Start with `avcap demo`, or `avcap synth sample clip.mp4 && avcap media probe clip.mp4`.\n\n"
        "\b\nExamples:\n"
        "  avcap demo\n"
        "  avcap caption clip.mp4 -m builtin:nano -o captions.jsonl\n"
        "  avcap --version"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"avcap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", help="Print avcap's version and exit.",
                                       callback=_version, is_eager=True)) -> None:
    """Detailed audio-visual video captioning."""


for _module in (demo, media, synth, caption, evaluate, bench, pairs, train, arena, data):
    _module.register(app)
pairs.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()
