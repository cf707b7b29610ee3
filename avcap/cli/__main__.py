"""``python -m avcap.cli`` runs the ``avcap`` command (for environments without the console script)."""

from avcap.cli import main

main()
