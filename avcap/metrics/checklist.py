"""Checklist score of AVoCaDO (Sec. 3.2.2, Eq. 3; prompts in Figs. 13-14).

The ground-truth caption is decomposed (Fig. 13) into keypoints over five dimensions; a
judge then marks each keypoint 1 if the generated caption "correctly mentions" it, else 0
(Fig. 14). The score is the plain fraction of keypoints hit, Eq. 3:

    R_C(S_gen | K) = 1/|K| * Σ_i Judge(S_gen, k_i),   Judge ∈ {0, 1}

so every keypoint weighs the same whatever its dimension (a micro-average). The
per-dimension scores and their unweighted mean (``macro``) are avcap's breakdown for
reports; they are not in the paper.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence

from avcap.metrics._checks import MetricInputError, require_count

# The five dimensions, in the order of the decomposition prompt (Fig. 13).
CHECKLIST_DIMENSIONS: tuple[str, ...] = (
    "Static Entity Description",
    "Dynamic Action & Interaction",
    "Auditory Elements",
    "Spatio-temporal & Cinematography",
    "Cross-modal Narrative Logic",
)


def _key(name: str) -> str:
    # Judges write "1. static entity description" or "Dynamic Action and Interaction".
    name = re.sub(r"^\s*\d+\s*[.):]\s*", "", name).lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name).split())


_CANONICAL = {_key(name): name for name in CHECKLIST_DIMENSIONS}


def canonical_dimension(name: str) -> str:
    """The paper's spelling of a dimension name written loosely; other names pass through stripped.

    >>> canonical_dimension("2. dynamic action and interaction")
    'Dynamic Action & Interaction'
    >>> canonical_dimension("  My own dimension ")
    'My own dimension'
    """
    if not isinstance(name, str) or not name.strip():
        raise MetricInputError(f"checklist: dimension name must be a non-empty string, got {name!r}")
    return _CANONICAL.get(_key(name), name.strip())


def checklist_reward(n_correct: int, n_keypoints: int) -> float:
    """Eq. 3 from counts (the Fig. 14 judge answers with a count of correctly mentioned keypoints).

    >>> checklist_reward(3, 4)
    0.75
    """
    n_correct = require_count("n_correct", n_correct)
    n_keypoints = require_count("n_keypoints", n_keypoints)
    if n_keypoints == 0:
        raise MetricInputError("checklist_reward: the checklist has no keypoints, so no score")
    if n_correct > n_keypoints:
        raise MetricInputError(f"checklist_reward: {n_correct} keypoints hit out of only {n_keypoints}")
    return n_correct / n_keypoints


def _verdict(index: int, value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        verdict = operator.index(value)  # ints, numpy ints; floats refused
    except TypeError:
        verdict = None
    if verdict in (0, 1):
        return verdict
    raise MetricInputError(f"checklist: judgment {index} must be 0/1 or a bool, got {value!r}")


def checklist_score(judgments: Sequence[tuple[str, int | bool]]) -> dict:
    """Overall (Eq. 3) and per-dimension checklist scores from ``(dimension, 0/1)`` per keypoint.

    Returns ``{"overall", "macro", "n_keypoints", "n_correct", "per_dimension": {dim:
    {"score", "n_keypoints", "n_correct"}}}``. Dimensions are canonicalised with
    :func:`canonical_dimension` and listed in the paper's order, then any others in order
    of appearance; only dimensions with keypoints appear. An empty checklist raises
    :class:`MetricInputError` (Eq. 3 divides by |K|).

    >>> out = checklist_score([("Auditory Elements", 1), ("Auditory Elements", 0), ("static entity description", True)])
    >>> out["overall"], out["per_dimension"]["Auditory Elements"]["score"], out["macro"]
    (0.6666666666666666, 0.5, 0.75)
    """
    judgments = list(judgments)
    if not judgments:
        raise MetricInputError("checklist_score: the checklist has no keypoints, so no score")
    counts: dict[str, list[int]] = {}  # dimension -> [n_keypoints, n_correct]
    for index, judgment in enumerate(judgments):
        try:
            dimension, value = judgment
        except (TypeError, ValueError):
            raise MetricInputError(f"checklist_score: judgment {index} is not (dimension, 0/1)") from None
        acc = counts.setdefault(canonical_dimension(dimension), [0, 0])
        acc[0] += 1
        acc[1] += _verdict(index, value)
    known = [d for d in CHECKLIST_DIMENSIONS if d in counts]
    ordered = known + [d for d in counts if d not in CHECKLIST_DIMENSIONS]
    per_dimension = {
        d: {"score": counts[d][1] / counts[d][0], "n_keypoints": counts[d][0], "n_correct": counts[d][1]}
        for d in ordered
    }
    n_keypoints = len(judgments)
    n_correct = sum(c[1] for c in counts.values())
    return {
        "overall": n_correct / n_keypoints,
        "macro": sum(v["score"] for v in per_dimension.values()) / len(per_dimension),
        "n_keypoints": n_keypoints,
        "n_correct": n_correct,
        "per_dimension": per_dimension,
    }
