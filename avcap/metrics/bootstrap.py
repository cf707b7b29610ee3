"""Uncertainty of a benchmark number: spread over judge runs, bootstrap intervals over videos.

Two sources of noise move a caption benchmark's score, and a report should show both:

* the judge: the same captions judged again give another number. :func:`run_spread` is the
  median, mean and sample standard deviation over the N judge runs;
* the sample of videos: another 483 clips would give another number. :func:`bootstrap_ci` is
  the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) over *videos*: a replicate draws
  videos with replacement (all questions of a video travel together, so QA sets resample
  videos, not questions) and recomputes the whole statistic, median-run selection included.
  ``strata`` resamples within each stratum, keeping its size (DREAM-1K's five sources of 200).

:func:`paired_bootstrap` compares two caption files on the same videos: each replicate applies
the *same* draw to both, so what the videos share cancels (Koehn 2004, "Statistical
significance tests for machine translation evaluation"). Its two-sided p-value is the
null-centred one: the share of replicates whose difference lies at least as far from the
observed difference as the observed difference lies from 0, ``(1 + #{|d* - d| >= |d|}) / (B + 1)``.

Statistics are functions of an index array (``idx``: item positions, repeats allowed) that
return a float or a dict of floats; a replicate that yields NaN (e.g. no events drawn) is
left out of the interval and counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from avcap.metrics._checks import MetricInputError

Statistic = Callable[[np.ndarray], "float | Mapping[str, float]"]


def run_spread(values: Sequence[float]) -> dict:
    """Median, mean, sample std (n - 1; 0.0 for one run), min and max over judge runs.

    >>> run_spread([0.3, 0.1, 0.2])["median"], round(run_spread([0.3, 0.1, 0.2])["std"], 3)
    (0.2, 0.1)
    """
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.size == 0:
        raise MetricInputError("run_spread: no runs")
    if not np.all(np.isfinite(arr)):
        raise MetricInputError("run_spread: a run value is not finite")
    return {
        "median": float(np.median(arr)), "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "min": float(arr.min()), "max": float(arr.max()), "n": int(arr.size),
    }


def group_indices(groups: Sequence[object]) -> list[np.ndarray]:
    """Item positions per group, groups in order of first appearance.

    >>> [g.tolist() for g in group_indices(["v1", "v2", "v1"])]
    [[0, 2], [1]]
    """
    where: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        where.setdefault(g, []).append(i)
    return [np.asarray(v, dtype=np.int64) for v in where.values()]


def resample_groups(n_groups: int, n_boot: int, rng: np.random.Generator,
                    strata: Sequence[object] | None = None) -> np.ndarray:
    """``[n_boot, n_groups]`` group indices drawn with replacement (within each stratum if given)."""
    if n_groups < 1:
        raise MetricInputError("bootstrap: no groups to resample")
    if strata is None:
        return rng.integers(0, n_groups, size=(n_boot, n_groups))
    if len(strata) != n_groups:
        raise MetricInputError(f"bootstrap: {len(strata)} strata labels for {n_groups} groups")
    out = np.empty((n_boot, n_groups), dtype=np.int64)
    for members in group_indices(list(strata)):
        cols = members  # the positions of this stratum's groups keep their count in every replicate
        out[:, cols] = members[rng.integers(0, members.size, size=(n_boot, members.size))]
    return out


def _as_dict(value: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    return {"value": float(value)}


def _replicates(stats: Sequence[Statistic], groups: Sequence[np.ndarray], n_boot: int, seed: int,
                strata: Sequence[object] | None) -> list[list[dict[str, float]]]:
    if n_boot < 1:
        raise MetricInputError("bootstrap: n_boot must be >= 1")
    draws = resample_groups(len(groups), n_boot, np.random.default_rng(seed), strata)
    out: list[list[dict[str, float]]] = [[] for _ in stats]
    for row in draws:
        idx = np.concatenate([groups[g] for g in row])
        for k, stat in enumerate(stats):
            out[k].append(_as_dict(stat(idx)))
    return out


def _interval(samples: np.ndarray, level: float) -> tuple[float, float, int]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan, int(samples.size)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high), int(samples.size - finite.size)


def bootstrap_ci(stat: Statistic, groups: Sequence[np.ndarray], *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0, strata: Sequence[object] | None = None) -> dict[str, dict]:
    """Percentile interval of ``stat`` per key: ``{key: {"low", "high", "se", "n_boot", "n_undefined"}}``.

    ``groups[g]`` are the item positions of video ``g``; ``stat(idx)`` sees the positions of
    the drawn videos' items concatenated.
    """
    if not 0 < level < 1:
        raise MetricInputError("bootstrap: level must be in (0, 1)")
    (reps,) = _replicates([stat], groups, n_boot, seed, strata)
    out = {}
    for key in reps[0]:
        samples = np.asarray([r.get(key, math.nan) for r in reps], dtype=np.float64)
        low, high, undefined = _interval(samples, level)
        finite = samples[np.isfinite(samples)]
        out[key] = {"low": low, "high": high, "se": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
                    "n_boot": n_boot, "n_undefined": undefined, "level": level}
    return out


def paired_bootstrap(stat_a: Statistic, stat_b: Statistic, groups: Sequence[np.ndarray], *, n_boot: int = 1000,
                     level: float = 0.95, seed: int = 0, strata: Sequence[object] | None = None) -> dict[str, dict]:
    """A minus B per key: ``{key: {"a", "b", "difference", "low", "high", "p_value", "n_boot"}}``.

    Both statistics see the same drawn videos in every replicate.
    """
    if not 0 < level < 1:
        raise MetricInputError("bootstrap: level must be in (0, 1)")
    everything = np.concatenate(list(groups)) if groups else np.empty(0, dtype=np.int64)
    a_obs, b_obs = _as_dict(stat_a(everything)), _as_dict(stat_b(everything))
    reps_a, reps_b = _replicates([stat_a, stat_b], groups, n_boot, seed, strata)
    out = {}
    for key in a_obs:
        if key not in b_obs:
            continue
        observed = a_obs[key] - b_obs[key]
        diffs = np.asarray([ra.get(key, math.nan) - rb.get(key, math.nan) for ra, rb in zip(reps_a, reps_b)])
        low, high, undefined = _interval(diffs, level)
        finite = diffs[np.isfinite(diffs)]
        if not math.isfinite(observed) or finite.size == 0:
            p = math.nan
        else:
            p = float((1 + np.count_nonzero(np.abs(finite - observed) >= abs(observed))) / (finite.size + 1))
        out[key] = {"a": a_obs[key], "b": b_obs[key], "difference": observed, "low": low, "high": high,
                    "p_value": p, "n_boot": n_boot, "n_undefined": undefined, "level": level}
    return out
