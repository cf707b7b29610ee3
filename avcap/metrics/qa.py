"""QA-by-caption accuracy (video-SALMONN 2 Sec. 5.3; AVoCaDO Sec. 4.2.2, Table 2).

A text-only LLM answers each multiple-choice question from the caption alone, with one
option letter or "N/A" when the caption lacks the information. AVoCaDO: "we instruct the
judge model to refrain from answering such questions, which are then marked as incorrect
samples." So an abstention, and equally an answer that cannot be read as one option
letter, scores 0 — never dropped from the denominator.

Parsing is conservative: a letter is taken only from a bare letter ("B", "(b)", "B."),
from "answer is B" / "answer: B" / "option B", from a leading "B. ..." / "B) ...", or from
a single distinct parenthesised option "(B)". A sentence such as "A man walks in" is
*not* read as option A. Two different letters in the same position, or none, give None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from avcap.metrics._checks import MetricInputError

_ABSTAIN = re.compile(
    r"^\W*(n\s*/\s*a|none|unknown|not (?:enough|sure|possible|mentioned|determin)|cannot|can't|unable|insufficient)\b"
)
_BARE = re.compile(r"^[\s*\"'`(\[]*([A-Za-z])[\s*\"'`)\].:]*$")
_ANSWER_IS = re.compile(
    r"\b(?i:answer|option|choice)\s*(?i:is)?\s*[:=\-]?\s*[*\"'`(\[]*([A-Z])(?=$|[\s*\"'`)\].,;:!])"
)
_LEADING = re.compile(r"^[\s*\"'`]*([A-Z])\s*[.):]\s")
_PAREN = re.compile(r"\(([A-Z])\)")


def _letters(options_letters: Sequence[str] | str) -> list[str]:
    letters = list(options_letters)
    if not letters or any(not isinstance(x, str) or len(x) != 1 or not x.isalpha() for x in letters):
        raise MetricInputError(f"parse_choice: options must be single letters, got {options_letters!r}")
    if len(set(x.upper() for x in letters)) != len(letters):
        raise MetricInputError(f"parse_choice: repeated option letters in {options_letters!r}")
    return [x.upper() for x in letters]


def parse_choice(answer_text: str | None, options_letters: Sequence[str] | str) -> str | None:
    """The option letter (upper case) an answer picks, or None for abstention / unreadable.

    >>> parse_choice("(b)", "ABCD"), parse_choice("The answer is C.", "ABCD"), parse_choice("N/A", "ABCD")
    ('B', 'C', None)
    >>> parse_choice("A man is walking.", "ABCD") is None
    True
    """
    letters = _letters(options_letters)
    if answer_text is None:
        return None
    if not isinstance(answer_text, str):
        raise MetricInputError(f"parse_choice: expected answer text, got {type(answer_text).__name__}")
    text = answer_text.strip()
    if not text or _ABSTAIN.match(text.lower()):
        return None
    bare = _BARE.match(text)
    if bare:
        letter = bare.group(1).upper()
        return letter if letter in letters else None
    for pattern in (_ANSWER_IS, _LEADING):
        found = pattern.search(text)
        if found:
            return found.group(1) if found.group(1) in letters else None
    in_parens = {m for m in _PAREN.findall(text) if m in letters}
    return in_parens.pop() if len(in_parens) == 1 else None


def qa_accuracy(predicted: Sequence[str | None], gold: Sequence[str]) -> float:
    """Fraction of questions answered with the gold letter; None (abstained / unparsed) is wrong.

    >>> qa_accuracy(["A", None, "c", "D"], ["A", "B", "C", "A"])
    0.5
    """
    if isinstance(predicted, str) or isinstance(gold, str):
        raise MetricInputError("qa_accuracy: expected lists of letters, got a string")
    predicted, gold = list(predicted), list(gold)
    if len(predicted) != len(gold):
        raise MetricInputError(f"qa_accuracy: {len(predicted)} answers for {len(gold)} questions")
    if not gold:
        raise MetricInputError("qa_accuracy: no questions")
    correct = 0
    for index, (p, g) in enumerate(zip(predicted, gold)):
        if not isinstance(g, str) or len(g.strip()) != 1:
            raise MetricInputError(f"qa_accuracy: gold answer {index} is not one letter: {g!r}")
        if p is not None and not isinstance(p, str):
            raise MetricInputError(f"qa_accuracy: answer {index} must be a letter or None, got {p!r}")
        correct += p is not None and p.strip().upper() == g.strip().upper()
    return correct / len(gold)
