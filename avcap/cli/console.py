"""Console output shared by the commands: control characters escaped, long lists capped.

Ids, paths and causes printed to a terminal come from files a user did not necessarily write:
a ``\\r`` in an id would rewrite the console line and an ANSI escape could recolour or hide
what follows, so every such string goes through :func:`printable`.
"""

from __future__ import annotations

import unicodedata

import typer

# How many per-item lines a command prints before "… and N more" (the full list is in its output file).
MAX_ITEM_LINES = 20


def printable(text: object) -> str:
    """``text`` with control and format characters escaped (``\\r`` → ``\\\\r``, ESC → ``\\\\x1b``)."""
    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def echo_capped(label: str, lines: list, limit: int = MAX_ITEM_LINES) -> None:
    """One stderr line per entry (``label: entry``), at most ``limit``, then ``… and N more``."""
    for line in lines[:limit]:
        typer.echo(f"{label}: {printable(line)}", err=True)
    if len(lines) > limit:
        typer.echo(f"{label}: … and {len(lines) - limit} more", err=True)
