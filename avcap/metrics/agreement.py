"""Agreement between two judges on the same items: correlation of scores, kappa of labels.

All return ``None`` where the quantity is undefined (a constant series has no correlation;
two raters who both use one label everywhere have no kappa), never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avcap.metrics._checks import MetricInputError


def _pair(x: Sequence[float], y: Sequence[float], name: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise MetricInputError(f"{name}: expected two equally long lists, got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise MetricInputError(f"{name}: values must be finite")
    return a, b


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation.

    >>> pearson([1, 2, 3], [2, 4, 7])
    0.9933992677987828
    >>> pearson([1, 1, 1], [1, 2, 3]) is None
    True
    """
    a, b = _pair(x, y, "pearson")
    if a.size < 2:
        return None
    da, db = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((da * da).sum() * (db * db).sum()))
    return None if denom == 0 else float((da * db).sum() / denom)


def average_ranks(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks.

    >>> average_ranks([10, 20, 10, 30]).tolist()
    [1.5, 3.0, 1.5, 4.0]
    """
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size, dtype=np.float64)
    sorted_a = a[order]
    i = 0
    while i < a.size:
        j = i
        while j + 1 < a.size and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks).

    >>> spearman([1, 2, 3, 4], [1, 3, 2, 4])
    0.8
    """
    a, b = _pair(x, y, "spearman")
    return pearson(average_ranks(a), average_ranks(b))


def cohen_kappa(a: Sequence[object], b: Sequence[object]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items: (p_o - p_e) / (1 - p_e).

    >>> round(cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]), 3)
    0.5
    """
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise MetricInputError(f"cohen_kappa: {len(a)} labels against {len(b)}")
    if not a:
        return None
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    labels = set(a) | set(b)
    expected = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    return None if expected == 1 else (observed - expected) / (1 - expected)
