"""AutoDQ precision / recall / F1 (Tarsier, used for DREAM-1K by Tarsier2, Table 1).

A judge extracts events from the reference and from the predicted description and labels
each as entailed / neutral / contradicted by the *other* description; only entailment
counts (Tarsier2, footnote 3):

* recall    DQ_R = reference events entailed by the prediction / reference events;
* precision DQ_P = predicted events entailed by the reference / predicted events.

Aggregation follows the official DREAM-1K scorer: per-video P and R are averaged within
each source (live-action, animation, stock, YouTube, shorts), F1 is computed from the
averaged P and R, and the overall P and R are the means over sources with overall F1
again computed from those two means — *not* the mean of the per-source F1s. Tarsier2's
Table 1 confirms it: for Tarsier2-7B the per-source P and R average to 42.8 / 41.1 and
F1(42.8, 41.1) = 42.0 is the reported overall, while the mean of the per-source F1s
would be 41.8.

Tarsier2's preference filter (§3.3, eq. 1) keeps a pair {y_w, y_l} only when the chosen
caption is at least as good on both AutoDQ scores and better by δ in sum:
ΔDQ_R >= 0, ΔDQ_P >= 0 and ΔDQ_R + ΔDQ_P >= δ, with Δ = score(y_w) - score(y_l), each
caption scored against the video's reference description; δ = 0.3 (Appendix D).
"""

from __future__ import annotations

from collections.abc import Sequence

from avcap.metrics._checks import MetricInputError, require_count, require_fraction, require_real


def f1(precision: float, recall: float) -> float:
    """Harmonic mean ``2PR / (P + R)``; 0.0 when both are 0 (nothing right either way).

    >>> f1(0.5, 1.0)
    0.6666666666666666
    >>> f1(0.0, 0.0)
    0.0
    """
    precision = require_real("precision", precision)
    recall = require_real("recall", recall)
    if precision < 0 or recall < 0:
        raise MetricInputError(f"f1: precision and recall must be >= 0, got {precision}, {recall}")
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


# Scores are ratios of small counts, so a sum meant to equal δ can land one float ulp below it
# (0.6 - 0.4 + 0.5 - 0.4 = 0.29999999999999993): the comparisons allow this slack.
_TOLERANCE = 1e-9
TARSIER2_DELTA = 0.3  # Appendix D


def autodq_deltas(chosen: tuple[float, float], rejected: tuple[float, float]) -> tuple[float, float]:
    """``(ΔDQ_P, ΔDQ_R)``: chosen minus rejected, from ``(precision, recall)`` of each caption.

    >>> autodq_deltas((0.8, 0.6), (0.5, 0.5))
    (0.30000000000000004, 0.09999999999999998)
    """
    try:
        (p_w, r_w), (p_l, r_l) = chosen, rejected
    except (TypeError, ValueError):
        raise MetricInputError("autodq_deltas: chosen and rejected must be (precision, recall) pairs") from None
    p_w, r_w = require_fraction("chosen precision", p_w), require_fraction("chosen recall", r_w)
    p_l, r_l = require_fraction("rejected precision", p_l), require_fraction("rejected recall", r_l)
    return p_w - p_l, r_w - r_l


def keep_preference_pair(delta_p: float, delta_r: float, delta: float = TARSIER2_DELTA) -> bool:
    """Tarsier2 eq. 1: ``ΔDQ_R >= 0 and ΔDQ_P >= 0 and ΔDQ_R + ΔDQ_P >= δ``.

    >>> keep_preference_pair(0.3, 0.1)        # better on both, by 0.4 in sum
    True
    >>> keep_preference_pair(0.4, -0.1)       # sum 0.3, but recall got worse
    False
    >>> keep_preference_pair(0.1, 0.1)        # better on both, by too little
    False
    """
    delta_p = require_real("delta_p", delta_p)
    delta_r = require_real("delta_r", delta_r)
    delta = require_real("delta", delta)
    if not (-1 - _TOLERANCE <= delta_p <= 1 + _TOLERANCE and -1 - _TOLERANCE <= delta_r <= 1 + _TOLERANCE):
        raise MetricInputError(f"keep_preference_pair: deltas must be in [-1, 1], got {delta_p}, {delta_r}")
    return delta_r >= -_TOLERANCE and delta_p >= -_TOLERANCE and delta_r + delta_p >= delta - _TOLERANCE


def _ratio(name: str, hits: int, total: int) -> float:
    if hits > total:
        raise MetricInputError(f"autodq_item: {name} entailed = {hits} exceeds {name} events = {total}")
    # An empty event list scores 1.0 (official scorer): a description with no events to
    # check has nothing wrong (precision) / nothing to miss (recall).
    return 1.0 if total == 0 else hits / total


def autodq_item(
    n_ref_events: int, n_ref_entailed: int, n_pred_events: int, n_pred_entailed: int
) -> tuple[float, float]:
    """``(precision, recall)`` of one video from the judge's counts.

    ``n_ref_entailed``: reference events entailed by the prediction (recall numerator);
    ``n_pred_entailed``: predicted events entailed by the reference (precision numerator).

    >>> autodq_item(n_ref_events=4, n_ref_entailed=1, n_pred_events=5, n_pred_entailed=3)
    (0.6, 0.25)
    >>> autodq_item(0, 0, 0, 0)
    (1.0, 1.0)
    """
    n_ref_events = require_count("n_ref_events", n_ref_events)
    n_ref_entailed = require_count("n_ref_entailed", n_ref_entailed)
    n_pred_events = require_count("n_pred_events", n_pred_events)
    n_pred_entailed = require_count("n_pred_entailed", n_pred_entailed)
    precision = _ratio("predicted", n_pred_entailed, n_pred_events)
    recall = _ratio("reference", n_ref_entailed, n_ref_events)
    return precision, recall


def autodq_aggregate(items: Sequence[tuple[str, float, float]]) -> dict:
    """Per-source and overall P / R / F1 from per-video ``(source, precision, recall)``.

    Returns ``{"per_source": {source: {"precision", "recall", "f1", "n_items"}},
    "overall": {"precision", "recall", "f1", "n_items", "n_sources"}}`` with sources in
    order of first appearance. Overall P and R are unweighted means over sources (DREAM-1K
    has 200 videos per source, so this equals the per-video mean there); overall F1 is
    ``f1(overall P, overall R)``. Failed items are the caller's to exclude and count.

    >>> out = autodq_aggregate([("a", 1.0, 0.5), ("a", 0.5, 0.5), ("b", 0.25, 1.0)])
    >>> out["per_source"]["a"]["precision"], out["overall"]["precision"]
    (0.75, 0.5)
    """
    items = list(items)
    if not items:
        raise MetricInputError("autodq_aggregate: no items to aggregate")
    sums: dict[str, list[float]] = {}  # source -> [sum P, sum R, count]
    for index, item in enumerate(items):
        try:
            source, precision, recall = item
        except (TypeError, ValueError):
            raise MetricInputError(
                f"autodq_aggregate: item {index} is not (source, precision, recall)"
            ) from None
        if not isinstance(source, str) or not source:
            raise MetricInputError(f"autodq_aggregate: item {index} has no source name")
        acc = sums.setdefault(source, [0.0, 0.0, 0])
        acc[0] += require_fraction(f"item {index} precision", precision)
        acc[1] += require_fraction(f"item {index} recall", recall)
        acc[2] += 1
    per_source = {}
    for source, (sum_p, sum_r, count) in sums.items():
        precision, recall = sum_p / count, sum_r / count
        per_source[source] = {
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall),
            "n_items": count,
        }
    overall_p = sum(s["precision"] for s in per_source.values()) / len(per_source)
    overall_r = sum(s["recall"] for s in per_source.values()) / len(per_source)
    overall = {
        "precision": overall_p,
        "recall": overall_r,
        "f1": f1(overall_p, overall_r),
        "n_items": len(items),
        "n_sources": len(per_source),
    }
    return {"per_source": per_source, "overall": overall}
