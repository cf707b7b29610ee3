"""Repetition rate and repetition collapse (RepCol) of generated captions.

Neither paper defines these exactly, so avcap fixes the definitions here:

* video-SALMONN 2, Appendix C, filters DPO pairs on the difference of a "repetition rate"
  (Table 6) "to avoid repeatedly decoding" but gives no formula. avcap uses seq-rep-n of
  Welleck et al. 2020 ("Neural Text Generation with Unlikelihood Training"), the standard
  degeneration measure: the share of the caption's n-grams that repeat an earlier one,
  ``1 - |unique n-grams| / |n-grams|``, over lower-cased word tokens, n = 4.
* AVoCaDO, Table 4, reports "RepCol — the ratio of generations exhibiting repetition
  collapse" without a detector. avcap calls a caption collapsed when it has a *loop* — a
  block of 1..``max_period`` tokens repeated back to back at least ``min_repeats`` times
  over at least ``min_span`` tokens (a model stuck in a loop repeats until the token
  limit) — or when its seq-rep-n reaches ``rep_threshold`` (a loop with small variations).
  The defaults sit far above what ordinary prose reaches (an exact 40-token loop, or half
  of all 4-grams repeated), trading a few missed mild cases for no false alarms.

Tokens are runs of word characters, except that each CJK character is its own token
(Chinese or Japanese captions have no spaces to split on). Punctuation is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from avcap.metrics._checks import MetricInputError, require_count, require_fraction

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


def tokenize_words(text: str) -> list[str]:
    """Lower-cased word tokens used by every function here.

    >>> tokenize_words("The cat, the CAT! 猫が")
    ['the', 'cat', 'the', 'cat', '猫', 'が']
    """
    if not isinstance(text, str):
        raise MetricInputError(f"repetition: expected caption text, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def _check_n(n: int) -> int:
    n = require_count("n", n)
    if n < 1:
        raise MetricInputError("repetition_rate: n must be >= 1")
    return n


def _seq_rep(tokens: list[str], n: int) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0  # shorter than one n-gram: nothing can repeat
    return 1.0 - len(set(grams)) / len(grams)


def repetition_rate(text: str, n: int = 4) -> float:
    """seq-rep-n: the fraction of word n-grams that repeat an earlier n-gram (0 = none).

    >>> repetition_rate("a b c a b c", n=3)  # a-b-c, b-c-a, c-a-b, a-b-c: one of four repeats
    0.25
    >>> repetition_rate("too short", n=4)
    0.0
    """
    return _seq_rep(tokenize_words(text), _check_n(n))


def find_loop(
    tokens: Sequence[str], *, min_repeats: int = 4, min_span: int = 40, max_period: int = 64
) -> tuple[int, int, int] | None:
    """The first back-to-back loop in ``tokens``: ``(period, start, span)`` or ``None``.

    A loop is a block of ``period`` tokens followed by copies of itself, at least
    ``min_repeats`` whole copies in all and at least ``min_span`` tokens long (a truncated
    last copy counts towards the span). The shortest qualifying period wins, then the
    earliest start; ``span`` is the full length of that repetition.

    >>> find_loop("x a b a b a b a y".split(), min_repeats=3, min_span=6)
    (2, 1, 7)
    """
    min_repeats = require_count("min_repeats", min_repeats)
    min_span = require_count("min_span", min_span)
    max_period = require_count("max_period", max_period)
    if min_repeats < 2:
        raise MetricInputError("find_loop: min_repeats must be >= 2 (one copy is no repetition)")
    if len(tokens) < 2:
        return None
    vocab: dict[str, int] = {}
    ids = np.array([vocab.setdefault(t, len(vocab)) for t in tokens], dtype=np.int64)
    for period in range(1, min(max_period, len(ids) - 1) + 1):
        # Positions i with ids[i] == ids[i + period]: a run of L of them starting at s means
        # tokens s .. s + L + period - 1 repeat a `period`-token block, span L + period.
        equal = np.concatenate(([0], (ids[period:] == ids[:-period]).astype(np.int8), [0]))
        edges = np.diff(equal)
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        spans = ends - starts + period
        ok = (spans >= min_span) & (spans // period >= min_repeats)
        if ok.any():
            k = int(np.argmax(ok))
            return period, int(starts[k]), int(spans[k])
    return None


def is_repetition_collapse(
    text: str,
    *,
    min_repeats: int = 4,
    min_span: int = 40,
    max_period: int = 64,
    n: int = 4,
    rep_threshold: float | None = 0.5,
) -> bool:
    """Whether a caption shows repetition collapse: a :func:`find_loop` loop, or seq-rep-n >= ``rep_threshold``.

    The seq-rep-n test applies only to captions of at least ``min_span`` tokens (in a
    five-word reply two equal 4-grams already make 0.5); ``rep_threshold=None`` turns it off.

    >>> is_repetition_collapse("The man walks to the door and opens it. " * 6)
    True
    >>> is_repetition_collapse("A man walks in. He sits down and a dog barks twice.")
    False
    """
    min_span, n = require_count("min_span", min_span), _check_n(n)
    tokens = tokenize_words(text)
    if rep_threshold is not None:
        rep_threshold = require_fraction("rep_threshold", rep_threshold)
        if len(tokens) >= min_span and _seq_rep(tokens, n) >= rep_threshold:
            return True
    return find_loop(tokens, min_repeats=min_repeats, min_span=min_span, max_period=max_period) is not None


def repcol_rate(texts: Sequence[str], **collapse_kwargs) -> float:
    """RepCol: the fraction of captions with repetition collapse (AVoCaDO Table 4, as a fraction).

    ``collapse_kwargs`` are passed to :func:`is_repetition_collapse`.

    >>> repcol_rate(["fine caption here", "go " * 50])
    0.5
    """
    if isinstance(texts, str):
        raise MetricInputError("repcol_rate: expected a list of captions, got one string")
    texts = list(texts)
    if not texts:
        raise MetricInputError("repcol_rate: no captions given")
    return sum(is_repetition_collapse(t, **collapse_kwargs) for t in texts) / len(texts)
