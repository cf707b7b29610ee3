"""MrDPO preference-pair selection (video-SALMONN 2, Sec. 3.3.1 and Appendix C, Table 6).

"A sample pair is selected if one sample is significantly better than the other. We
consider the total error rate Δe as the main metric. Besides, to avoid repeatedly
decoding, we also consider the repetition rate Δr of each sample." Table 6, verbatim:

    gDPO Round | Δe    | Δr
    1          | ≥ 5%  | ≥ 1%
    2          | ≥ 20% | ≥ -1%
    3          | ≥ 23% | ≥ -1%
    4          | ≥ 23% | ≥ -1%
    5          | ≥ 23% | ≥ -1%
    6          | ≥ 23% | ≥ -1%

"A negative number means that the chosen sample can be worse than the rejected sample in
this metric to some degree." So for chosen c and rejected j, with e the total error rate
(:func:`avcap.metrics.events.item_error_rates`) and r the repetition rate
(:func:`avcap.metrics.repetition.repetition_rate`), both as fractions:

    Δe = e_j - e_c >= threshold_e   and   Δr = r_j - r_c >= threshold_r

The percentages are absolute differences of the rates (percentage points), so 5 % is
0.05. Rounds after the sixth reuse the sixth row (rounds 3-6 already share it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from avcap.metrics._checks import MetricInputError, require_count, require_real

# gDPO round -> (minimum Δe, minimum Δr), Table 6 of video-SALMONN 2 in fractions.
TABLE6_THRESHOLDS: Mapping[int, tuple[float, float]] = MappingProxyType(
    {
        1: (0.05, 0.01),
        2: (0.20, -0.01),
        3: (0.23, -0.01),
        4: (0.23, -0.01),
        5: (0.23, -0.01),
        6: (0.23, -0.01),
    }
)

# Rates are ratios of small counts, so a difference meant to equal a threshold can land
# one float ulp below it (0.30 - 0.25 = 0.04999999999999999): compare with this slack.
_TOLERANCE = 1e-9

Thresholds = tuple[float, float] | Mapping[int, tuple[float, float]]


def round_thresholds(round_index: int, thresholds: Thresholds | None = None) -> tuple[float, float]:
    """``(min Δe, min Δr)`` for a 1-based gDPO round.

    ``thresholds``: ``None`` for Table 6, one ``(Δe, Δr)`` pair for every round, or a
    mapping round -> pair (a round above the largest key uses the largest key's pair).

    >>> round_thresholds(1), round_thresholds(9)
    ((0.05, 0.01), (0.23, -0.01))
    """
    round_index = require_count("round_index", round_index)
    if round_index < 1:
        raise MetricInputError("select_pair: round_index is 1-based (the first gDPO round is 1)")
    table = TABLE6_THRESHOLDS if thresholds is None else thresholds
    if isinstance(table, Mapping):
        if not table:
            raise MetricInputError("select_pair: the thresholds table is empty")
        if round_index in table:
            pair = table[round_index]
        elif round_index > max(table):
            pair = table[max(table)]
        else:
            raise MetricInputError(f"select_pair: no thresholds for round {round_index}")
    else:
        pair = table
    try:
        min_e, min_r = pair
    except (TypeError, ValueError):
        raise MetricInputError(f"select_pair: thresholds must be (Δe, Δr) pairs, got {pair!r}") from None
    return require_real("Δe threshold", min_e), require_real("Δr threshold", min_r)


def select_pair(
    samples: Sequence[tuple[float, float]], round_index: int, thresholds: Thresholds | None = None,
    misses: Sequence[float] | None = None, max_miss_rise: float | None = None,
) -> tuple[int, int] | None:
    """``(chosen_index, rejected_index)`` among sampled captions, or None if no pair qualifies.

    ``samples`` holds ``(total_error, repetition_rate)`` per caption of one video. Every
    ordered pair passing the round's thresholds qualifies; the one with the largest Δe is
    returned (ties: larger Δr, then lower indices), i.e. the clearest preference signal.
    The chosen caption always has the strictly lower total error ("the one with a lower
    total error rate is regarded as the preferred sample", Sec. 3.3.1), whatever the
    thresholds.

    >>> select_pair([(0.40, 0.02), (0.30, 0.00)], round_index=1)  # Δe = 0.10, Δr = 0.02
    (1, 0)
    >>> select_pair([(0.40, 0.02), (0.30, 0.00)], round_index=2) is None  # needs Δe >= 0.20
    True

    ``max_miss_rise`` (not in the paper; None = the paper's rule) also asks the chosen caption to
    miss at most that much more than the rejected one (``misses``: miss rates, as fractions), so
    that a caption cannot win a pair by saying less -- lower hallucination bought with more
    missed events. 0.0: the chosen caption never misses more.

    >>> select_pair([(0.40, 0.0), (0.30, 0.0)], 1, misses=[0.1, 0.3], max_miss_rise=0.0) is None
    True
    """
    min_e, min_r = round_thresholds(round_index, thresholds)
    checked = []
    for index, sample in enumerate(samples):
        try:
            error, repetition = sample
        except (TypeError, ValueError):
            raise MetricInputError(
                f"select_pair: sample {index} is not (total_error, repetition_rate)"
            ) from None
        error = require_real(f"sample {index} total_error", error)
        repetition = require_real(f"sample {index} repetition_rate", repetition)
        if error < 0 or repetition < 0:
            raise MetricInputError(f"select_pair: sample {index} has a negative rate")
        checked.append((error, repetition))
    if max_miss_rise is not None:
        if misses is None or len(misses) != len(checked):
            raise MetricInputError("select_pair: max_miss_rise needs one miss rate per sample")
        misses = [require_real(f"sample {i} miss", m) for i, m in enumerate(misses)]
        max_miss_rise = require_real("max_miss_rise", max_miss_rise)
    best: tuple[float, float, int, int] | None = None
    for c, (e_c, r_c) in enumerate(checked):
        for j, (e_j, r_j) in enumerate(checked):
            if c == j:
                continue
            delta_e, delta_r = e_j - e_c, r_j - r_c
            if delta_e < min_e - _TOLERANCE or delta_r < min_r - _TOLERANCE or delta_e <= 0:
                continue
            if max_miss_rise is not None and misses[c] - misses[j] > max_miss_rise + _TOLERANCE:
                continue
            if best is None or (delta_e, delta_r) > (best[0], best[1]):
                best = (delta_e, delta_r, c, j)
    return None if best is None else (best[2], best[3])
