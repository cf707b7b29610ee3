"""Elo ratings from pairwise votes (video-SALMONN 2, Appendix G, Tables 9-10).

Parameters of the paper's Table 9: initial rating 1000, logarithm base 10, scaling factor
400, K-factor 8. For a match between a and b with result ``S_a`` (1 win, 0.5 tie, 0 loss):

    E_a = 1 / (1 + base ** ((R_b - R_a) / scale)),   E_b = 1 - E_a
    R_a += k (S_a - E_a),                              R_b += k ((1 - S_a) - E_b)

applied match by match in the given order (the paper rates 180 human-judged pairs this
way). Sequential Elo depends on the order of the matches, so :func:`elo_bootstrap` replays
the matches in many shuffled orders and reports the spread as a confidence interval.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from avcap.metrics._checks import MetricInputError, require_fraction, require_real

Match = tuple[str, str, float]  # (a, b, result for a: 1, 0.5 or 0)


def expected_score(rating_a: float, rating_b: float, base: float = 10.0, scale: float = 400.0) -> float:
    """Probability-like expected score of a against b.

    >>> expected_score(1000, 1000)
    0.5
    >>> round(expected_score(1400, 1000), 4)  # 400 points ahead: 10 to 1
    0.9091
    """
    return 1.0 / (1.0 + base ** ((rating_b - rating_a) / scale))


def _check_matches(matches: Sequence[Match]) -> list[Match]:
    checked = []
    for index, match in enumerate(matches):
        try:
            a, b, result = match
        except (TypeError, ValueError):
            raise MetricInputError(f"elo: match {index} is not (a, b, result)") from None
        if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
            raise MetricInputError(f"elo: match {index} players must be non-empty names, got {a!r}, {b!r}")
        if a == b:
            raise MetricInputError(f"elo: match {index} pits {a!r} against itself")
        result = require_real(f"match {index} result", result)
        if result not in (0.0, 0.5, 1.0):
            raise MetricInputError(f"elo: match {index} result must be 1, 0.5 or 0 for {a!r}, got {result}")
        checked.append((a, b, result))
    return checked


def _check_params(k: float, init: float, base: float, scale: float) -> tuple[float, float, float, float]:
    k, init = require_real("k", k), require_real("init", init)
    base, scale = require_real("base", base), require_real("scale", scale)
    if k <= 0 or base <= 1 or scale <= 0:
        raise MetricInputError(f"elo: need k > 0, base > 1, scale > 0; got k={k}, base={base}, scale={scale}")
    return k, init, base, scale


def _replay(matches: list[Match], k: float, init: float, base: float, scale: float) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for a, b, result in matches:
        r_a, r_b = ratings.setdefault(a, init), ratings.setdefault(b, init)
        e_a = expected_score(r_a, r_b, base, scale)
        ratings[a] = r_a + k * (result - e_a)
        ratings[b] = r_b + k * ((1.0 - result) - (1.0 - e_a))
    return ratings


def elo_ratings(
    matches: Sequence[Match], k: float = 8, init: float = 1000, base: float = 10, scale: float = 400
) -> dict[str, float]:
    """Sequential Elo over ``matches`` in the given order; players appear in order of first match.

    Both players update from their ratings before the match, so the total is conserved.
    No matches gives ``{}``.

    >>> elo_ratings([("x", "y", 1)])
    {'x': 1004.0, 'y': 996.0}
    """
    params = _check_params(k, init, base, scale)
    return _replay(_check_matches(matches), *params)


def elo_bootstrap(
    matches: Sequence[Match],
    rounds: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    resample: bool = False,
    **elo_kwargs: float,
) -> dict[str, dict[str, float]]:
    """Order-robust Elo: ``{name: {"rating", "low", "high"}}`` over ``rounds`` shuffled replays.

    Each round replays the matches in a random order (``resample=True`` also draws them
    with replacement, the classic bootstrap, which widens the interval by the vote noise).
    ``rating`` is the median over rounds and ``low`` / ``high`` the ``(1 - ci) / 2`` and
    ``(1 + ci) / 2`` quantiles (linear interpolation). A player missing from a resampled
    round keeps the initial rating in that round. Deterministic for a given ``seed``.
    """
    checked = _check_matches(matches)
    params = _check_params(
        elo_kwargs.pop("k", 8),
        elo_kwargs.pop("init", 1000),
        elo_kwargs.pop("base", 10),
        elo_kwargs.pop("scale", 400),
    )
    if elo_kwargs:
        raise MetricInputError(f"elo_bootstrap: unknown arguments {sorted(elo_kwargs)}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise MetricInputError(f"elo_bootstrap: rounds must be a positive int, got {rounds!r}")
    ci = require_fraction("ci", ci)
    if not 0 < ci < 1:
        raise MetricInputError(f"elo_bootstrap: ci must be in (0, 1), got {ci}")
    players = list(_replay(checked, *params))
    if not players:
        return {}
    rng = random.Random(seed)
    samples = np.empty((rounds, len(players)), dtype=np.float64)
    for r in range(rounds):
        order = rng.choices(checked, k=len(checked)) if resample else rng.sample(checked, len(checked))
        ratings = _replay(order, *params)
        samples[r] = [ratings.get(p, params[1]) for p in players]
    low, mid, high = np.quantile(samples, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
    return {
        p: {"rating": float(mid[i]), "low": float(low[i]), "high": float(high[i])}
        for i, p in enumerate(players)
    }
