"""Dialogue F1 of AVoCaDO (Sec. 3.2.3, Eqs. 4-7): content alignment by DP, then speakers.

Both dialogues are lists of ``(speaker, utterance)`` units: the reference ``D_gt`` with M
units and the prediction ``D_gen`` with N units.

1. Content similarity, Eq. 4: ``Sim(a, b) = 1 - edit_distance(a, b) / max(len(a), len(b))``
   with the Levenshtein distance over **characters** ("len(·) denotes the string length";
   the footnote points to edit distance). Strings are compared as given, no case folding,
   as in the paper. Two empty strings are identical: Sim = 1.
2. Alignment: the monotone matching (both index sequences increasing, like an LCS) whose
   pairs all have ``Sim >= γ`` (γ = 0.6) and whose summed Sim, ``S_content``, is maximal.
   The paper's recurrence, with ``F[i][j]`` the best total for the first i predicted and
   first j reference units::

       F[i][j] = 0                                   if i = 0 or j = 0
               = max(F[i-1][j], F[i][j-1])           if Sim(c_i^gen, c_j^gt) <  γ
               = max(F[i-1][j], F[i][j-1],
                     F[i-1][j-1] + Sim(c_i, c_j))    if Sim(c_i^gen, c_j^gt) >= γ

   When several matchings reach the same maximum the backtrack prefers, at each cell,
   the match, then skipping a predicted unit, then skipping a reference unit (the paper
   does not say; this rule makes the result deterministic).
3. Speakers: each matched pair scores 1 if its speakers are the same subject. The paper
   asks Gemini-2.5-Pro with the video (Fig. 16); here ``same_speaker`` decides — a
   callable, a verdict per matched pair, or by default a case-insensitive comparison of
   the speaker strings. ``S_speaker`` = number of consistent pairs.
4. Eq. 5-7: ``S_combined = (S_speaker + S_content) / 2``, ``Rec = S_combined / M``,
   ``Prec = S_combined / N``, ``F1 = 2 Prec Rec / (Prec + Rec)``.

Empty dialogues (the paper is silent): an empty side scores 1.0 on the rate it is the
denominator of, as AutoDQ scores empty event lists — both empty gives P = R = F1 = 1,
one empty gives F1 = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from avcap.metrics._checks import MetricInputError, require_fraction
from avcap.metrics.autodq import f1 as _f1

Unit = tuple[str, str]  # (speaker, utterance)
SpeakerRule = Callable[[str, str], bool] | Mapping[tuple[int, int], bool] | None


def _units(name: str, dialogue: Sequence[Unit]) -> list[Unit]:
    if isinstance(dialogue, (str, bytes)):
        raise MetricInputError(f"dialogue_f1: {name} must be a list of (speaker, utterance), got a string")
    units = []
    for index, unit in enumerate(dialogue):
        if isinstance(unit, (str, bytes)) or len(unit) != 2:
            raise MetricInputError(f"dialogue_f1: {name}[{index}] is not a (speaker, utterance) pair")
        speaker, utterance = unit
        if not isinstance(speaker, str) or not isinstance(utterance, str):
            raise MetricInputError(f"dialogue_f1: {name}[{index}] speaker and utterance must be strings")
        units.append((speaker, utterance))
    return units


def content_similarity(a: str, b: str) -> float:
    """Eq. 4 over characters: ``1 - Levenshtein(a, b) / max(len(a), len(b))``; 1.0 for two empty strings.

    >>> content_similarity("kitten", "sitting")  # distance 3, longer string 7
    0.5714285714285714
    """
    if not isinstance(a, str) or not isinstance(b, str):
        raise MetricInputError("content_similarity: both utterances must be strings")
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - Levenshtein.distance(a, b) / longest


def similarity_matrix(pred_utterances: Sequence[str], ref_utterances: Sequence[str]) -> np.ndarray:
    """Eq. 4 for every (predicted, reference) pair, float64 [N, M]."""
    n, m = len(pred_utterances), len(ref_utterances)
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=np.float64)
    # rapidfuzz computes the N x M Levenshtein distances in C++ (a Python double loop over
    # characters would dominate GRPO reward time); Eq. 4's normalisation is done here.
    distances = process.cdist(
        list(pred_utterances), list(ref_utterances), scorer=Levenshtein.distance, dtype=np.int64
    )
    pred_len = np.array([len(u) for u in pred_utterances], dtype=np.int64)[:, None]
    ref_len = np.array([len(u) for u in ref_utterances], dtype=np.int64)[None, :]
    longest = np.maximum(pred_len, ref_len)
    return np.where(longest == 0, 1.0, 1.0 - distances / np.maximum(longest, 1))


_MATCH, _SKIP_PRED, _SKIP_REF = 0, 1, 2


def _align(sim: np.ndarray, threshold: float) -> tuple[float, list[tuple[int, int]]]:
    """Max-total monotone matching over ``sim`` [N pred, M ref] with every pair >= threshold."""
    n, m = sim.shape
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    move = [[_SKIP_PRED] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        row, prev = best[i], best[i - 1]
        for j in range(1, m + 1):
            value, choice = prev[j], _SKIP_PRED
            if row[j - 1] > value:
                value, choice = row[j - 1], _SKIP_REF
            s = float(sim[i - 1, j - 1])
            if s >= threshold and prev[j - 1] + s >= value:
                value, choice = prev[j - 1] + s, _MATCH
            row[j], move[i][j] = value, choice
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        choice = move[i][j]
        if choice == _MATCH:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif choice == _SKIP_PRED:
            i -= 1
        else:
            j -= 1
    pairs.reverse()
    return best[n][m], pairs


def align_dialogues(
    ref: Sequence[Unit], pred: Sequence[Unit], threshold: float = 0.6
) -> list[tuple[int, int, float]]:
    """The content alignment of step 2: ``[(ref_index, pred_index, sim), ...]`` in dialogue order.

    The judge-backed speaker check needs exactly these pairs (Fig. 16 asks only about
    matched pairs); pass its verdicts back to :func:`dialogue_f1` as a mapping.
    """
    ref_units, pred_units = _units("ref", ref), _units("pred", pred)
    threshold = require_fraction("threshold", threshold)
    sim = similarity_matrix([u for _, u in pred_units], [u for _, u in ref_units])
    _, pairs = _align(sim, threshold)
    return [(j, i, float(sim[i, j])) for i, j in pairs]


def _speaker_verdict(
    rule: SpeakerRule, ref_units: list[Unit], pred_units: list[Unit], j: int, i: int
) -> bool:
    if rule is None:
        return ref_units[j][0].strip().casefold() == pred_units[i][0].strip().casefold()
    if isinstance(rule, Mapping):
        if (j, i) not in rule:
            raise MetricInputError(
                f"dialogue_f1: same_speaker has no verdict for matched pair (ref {j}, pred {i})"
            )
        return bool(rule[(j, i)])
    return bool(rule(ref_units[j][0], pred_units[i][0]))


def dialogue_f1(
    ref: Sequence[Unit], pred: Sequence[Unit], threshold: float = 0.6, same_speaker: SpeakerRule = None
) -> dict:
    """AVoCaDO's dialogue precision / recall / F1 (Eqs. 4-7) between reference and predicted dialogue.

    ``same_speaker``: ``None`` compares speaker strings case-insensitively (stripped);
    a callable ``(ref_speaker, pred_speaker) -> bool``; or a mapping
    ``{(ref_index, pred_index): bool}`` holding a verdict for every pair that
    :func:`align_dialogues` matched (e.g. from a video-aware judge).

    Returns ``precision``, ``recall``, ``f1`` plus ``s_content``, ``s_speaker``,
    ``s_combined``, ``n_ref``, ``n_pred`` and ``pairs`` (the matched ``(ref_index,
    pred_index, sim)``).

    >>> out = dialogue_f1([("Tom", "hello there"), ("Ann", "hi")], [("tom", "hello there")])
    >>> out["s_content"], out["s_speaker"], out["recall"], out["precision"]
    (1.0, 1, 0.5, 1.0)
    """
    ref_units, pred_units = _units("ref", ref), _units("pred", pred)
    if same_speaker is not None and not isinstance(same_speaker, Mapping) and not callable(same_speaker):
        raise MetricInputError("dialogue_f1: same_speaker must be None, a callable or a mapping")
    pairs = align_dialogues(ref_units, pred_units, threshold)
    s_content = sum(sim for _, _, sim in pairs)
    s_speaker = sum(_speaker_verdict(same_speaker, ref_units, pred_units, j, i) for j, i, _ in pairs)
    s_combined = (s_speaker + s_content) / 2  # Eq. 5
    n_ref, n_pred = len(ref_units), len(pred_units)
    recall = 1.0 if n_ref == 0 else s_combined / n_ref  # Eq. 6
    precision = 1.0 if n_pred == 0 else s_combined / n_pred
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),  # Eq. 7
        "s_content": s_content,
        "s_speaker": s_speaker,
        "s_combined": s_combined,
        "n_ref": n_ref,
        "n_pred": n_pred,
        "pairs": pairs,
    }
