"""Placeholder for ``avcap media`` until the media helper lands it."""

import typer


def register(app: typer.Typer) -> None:
    return None
