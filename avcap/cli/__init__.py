"""The ``avcap`` command. Each verb lives in its own thin module that only parses and delegates.

Command modules import heavy libraries (torch, transformers, av) inside the command
functions so that ``avcap --help`` stays fast.
"""

from __future__ import annotations

import typer

from avcap.cli import bench, caption, demo, evaluate, media, synth, train

app = typer.Typer(
    name="avcap",
    help=(
        "Detailed audio-visual video captioning.\n\n"
        "Caption videos with video-SALMONN 2, Qwen-Omni or Qwen-VL models, evaluate captions with "
        "LLM-judged event metrics (Miss%/Hall%), train captioners (SFT, DPO, MrDPO), and rank them.\n\n"
        "Start with `avcap demo`, or `avcap synth sample clip.mp4 && avcap media probe clip.mp4`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (demo, media, synth, caption, evaluate, bench, train):
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry point
    app()
