"""One module per metric; ``SCORERS`` maps ``--metrics`` names to them."""

from avcap.eval.scorers import autodq, checklist, dialogue, qa, repetition, salmonn2

SCORERS = {m.NAME: m for m in (salmonn2, autodq, checklist, dialogue, repetition, qa)}

__all__ = ["SCORERS"]
