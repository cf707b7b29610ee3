"""``python -m avcap.train <recipe> --config FILE.yaml [--key value ...]``, for launchers.

``torchrun -m avcap.train sft ...`` and ``accelerate launch -m avcap.train sft ...`` start one
process per device; this is the same command as ``avcap train``.
"""

from __future__ import annotations

import sys

import typer

from avcap.cli.train import register

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
register(app)

if __name__ == "__main__":
    app(args=["train", *sys.argv[1:]], prog_name="python -m avcap.train")
