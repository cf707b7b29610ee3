"""Gold pairs: a video's ground-truth caption against a corrupted copy of it.

The corrupted caption misses events and hallucinates one, the two error kinds of
video-SALMONN 2's metric: it keeps the first sentence, drops about half of the others (at
least one), and changes one colour word to another colour of the synthetic world (or one
shape, when no colour is named). Any attentive voter prefers the ground truth, so agreement
on gold pairs measures the voter, not the models.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from avcap.data import DatasetRow
from avcap.synth.lexicon import COLOURS, SHAPES

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _swap_word(sentences: list[str], vocabulary: Iterable[str], rng: random.Random) -> bool:
    vocab = list(vocabulary)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, vocab)) + r")\b", re.IGNORECASE)
    spots = [(i, m) for i, s in enumerate(sentences) for m in pattern.finditer(s)]
    if not spots:
        return False
    i, match = rng.choice(spots)
    word = match.group(0)
    other = rng.choice([w for w in vocab if w != word.lower()])
    other = other.capitalize() if word[0].isupper() else other
    sentences[i] = sentences[i][: match.start()] + other + sentences[i][match.end():]
    return True


def corrupt_caption(caption: str, rng: random.Random) -> str | None:
    """A worse version of ``caption`` (see module doc), or None if it cannot be made worse."""
    sentences = [s for s in _SENTENCE.split(caption.strip()) if s]
    if len(sentences) >= 2:
        rest = sentences[1:]
        n_drop = max(1, len(rest) // 2)
        drop = set(rng.sample(range(len(rest)), n_drop))
        sentences = [sentences[0]] + [s for k, s in enumerate(rest) if k not in drop]
    changed = _swap_word(sentences, COLOURS, rng) or _swap_word(sentences, SHAPES, rng)
    out = " ".join(sentences)
    return out if (changed or out != caption.strip()) and out.strip() != caption.strip() else None


def gold_rows(rows: Iterable[DatasetRow], seed: int = 0) -> tuple[list[dict], list[str]]:
    """``({"id", "video", "better", "worse"}, ...)`` for every row with a ground-truth caption."""
    rng = random.Random(seed)
    out, skipped = [], []
    for row in rows:
        if not row.reference or not row.video:
            skipped.append(f"{row.source}: row '{row.id}' has no ground-truth caption or no video")
            continue
        worse = corrupt_caption(row.reference, rng)
        if worse is None:
            skipped.append(f"{row.source}: the caption of '{row.id}' is too short to corrupt")
            continue
        out.append({"id": row.id, "video": row.video, "better": row.reference, "worse": worse})
    return out, skipped
