"""Bradley–Terry ratings from pairwise votes: maximum likelihood, bootstrap intervals, style control.

Model (Bradley & Terry 1952; Chatbot Arena's "Arena Score"): battle ``i`` between models
``a_i`` (shown left) and ``b_i`` has ``P(a_i wins) = sigmoid(beta[a_i] - beta[b_i] + z_i · gamma)``,
where ``z_i`` are optional style covariates (LMArena's style control, 2024: the normalised
caption-length difference). ``beta`` is fit by maximising the Bernoulli log-likelihood (a
logistic regression without intercept), with ties as targets of 0.5, which is the same as
LMArena's half-win / half-loss duplication of a tie.

Ratings are put on the Elo scale of video-SALMONN 2's Table 9 (base 10, scale 400, mean 1000):
``rating = 1000 + 400 / ln(10) · beta`` with ``sum(beta) = 0``, so a 400-point gap means 10:1 odds.

Why hand-written: the fit is a few lines of Newton's method on an M-parameter convex problem;
scikit-learn or statsmodels would be a heavy dependency for it, and neither resamples votes
with multinomial weights as the bootstrap here does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avcap.metrics._checks import MetricInputError

ELO_SCALE = 400.0
ELO_BASE = 10.0
ELO_INIT = 1000.0
POINTS_PER_LOGIT = ELO_SCALE / math.log(ELO_BASE)  # 173.7 rating points per unit of log-odds
# A weak Gaussian prior (sd ~ 32 log-odds) keeps a model that won or lost every vote finite;
# on real vote counts its pull is far below the sampling noise.
DEFAULT_RIDGE = 1e-3


@dataclass(frozen=True)
class Battles:
    """Votes as arrays: one row per battle, ``y`` the result for ``a`` (1 win, 0.5 tie, 0 loss)."""

    models: tuple[str, ...]  # [M]
    a: np.ndarray  # [N] int index of the left model
    b: np.ndarray  # [N] int index of the right model
    y: np.ndarray  # [N] float in {0, 0.5, 1}
    z: np.ndarray  # [N, S] style covariates (S may be 0)

    def __len__(self) -> int:
        return len(self.y)


def make_battles(
    matches: Sequence[tuple[str, str, float]],
    covariates: Sequence[Sequence[float]] | None = None,
    models: Sequence[str] | None = None,
) -> Battles:
    """``[(a, b, result_for_a), ...]`` (+ one covariate row per match) as :class:`Battles`."""
    names = list(models) if models is not None else []
    index = {m: i for i, m in enumerate(names)}
    a, b, y = [], [], []
    for k, (left, right, result) in enumerate(matches):
        if left == right:
            raise MetricInputError(f"bradley_terry: match {k} pits {left!r} against itself")
        if result not in (0, 0.5, 1):
            raise MetricInputError(f"bradley_terry: match {k} result must be 1, 0.5 or 0, got {result!r}")
        for name in (left, right):
            if name not in index:
                if models is not None:
                    raise MetricInputError(f"bradley_terry: match {k} names unknown model {name!r}")
                index[name] = len(names)
                names.append(name)
        a.append(index[left])
        b.append(index[right])
        y.append(float(result))
    if covariates is None:
        z = np.zeros((len(y), 0))
    else:
        z = np.asarray(covariates, dtype=np.float64).reshape(len(y), -1)
        if not np.all(np.isfinite(z)):
            raise MetricInputError("bradley_terry: covariates must be finite")
    return Battles(tuple(names), np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64),
                   np.asarray(y, dtype=np.float64), z)


def length_feature(len_a: Sequence[float], len_b: Sequence[float]) -> np.ndarray:
    """LMArena's style feature for length: ``(L_a - L_b) / (L_a + L_b)``, divided by its RMS.

    The ratio makes 500 vs 520 words a small difference and 20 vs 40 a large one (Chatbot
    Arena, "Does style matter?", 2024). LMArena then standardises the feature; here it is
    scaled by its root mean square but not centred, so that swapping the two sides still
    exactly negates it (sides are randomised, so the mean is ~0 anyway). ``gamma`` is then the
    log-odds effect of one RMS of relative length difference. Returns ``[N, 1]``.
    """
    la, lb = np.asarray(len_a, dtype=np.float64), np.asarray(len_b, dtype=np.float64)
    if la.shape != lb.shape or np.any(la < 0) or np.any(lb < 0):
        raise MetricInputError("length_feature: need two equally long arrays of lengths >= 0")
    total = la + lb
    ratio = np.divide(la - lb, total, out=np.zeros_like(total), where=total > 0)
    rms = float(np.sqrt(np.mean(ratio**2))) if ratio.size else 0.0
    return (ratio / rms if rms > 0 else ratio)[:, None]


def _design(battles: Battles) -> np.ndarray:
    """``[N, M + S]``: +1 in the left model's column, -1 in the right one's, then the covariates."""
    m, n = len(battles.models), len(battles)
    x = np.zeros((n, m + battles.z.shape[1]))
    rows = np.arange(n)
    x[rows, battles.a] += 1.0
    x[rows, battles.b] -= 1.0
    x[:, m:] = battles.z
    return x


def _loss(x: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, ridge: float) -> float:
    logits = x @ theta
    # -log sigmoid(l) = logaddexp(0, -l): stable for any logit.
    nll = y * np.logaddexp(0.0, -logits) + (1.0 - y) * np.logaddexp(0.0, logits)
    return float(w @ nll + 0.5 * ridge * theta @ theta)


def _newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, m: int, ridge: float, max_iter: int = 100,
            tol: float = 1e-10) -> np.ndarray:
    """Damped Newton on the weighted negative log-likelihood; returns ``[beta (M), gamma (S)]``."""
    theta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], ridge)
    loss = _loss(x, y, w, theta, ridge)
    for _ in range(max_iter):
        p = 0.5 * (1.0 + np.tanh(0.5 * (x @ theta)))  # sigmoid without overflow
        grad = x.T @ (w * (p - y)) + penalty * theta
        hess = (x * (w * p * (1.0 - p))[:, None]).T @ x + np.diag(penalty)
        if ridge > 0:
            step = np.linalg.solve(hess, grad)
        else:  # singular along "add c to every beta": the minimum-norm step keeps sum(beta) at 0
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        scale = 1.0
        while True:  # halve the step until the loss does not rise (Newton can overshoot far out)
            candidate = theta - scale * step
            new_loss = _loss(x, y, w, candidate, ridge)
            if new_loss <= loss + 1e-12 * abs(loss) or scale < 1e-6:
                break
            scale *= 0.5
        theta, loss = candidate, new_loss
        if np.max(np.abs(scale * step)) < tol:
            break
    theta[:m] -= theta[:m].mean()
    return theta


def _unique(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identical battles merged into one weighted row: the fit then costs O(distinct battles)."""
    rows, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    return rows[:, :-1], rows[:, -1], counts.astype(np.float64)


def bt_fit(battles: Battles, ridge: float = DEFAULT_RIDGE,
           weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood ``(beta [M], gamma [S])`` in log-odds units, ``beta`` summing to 0."""
    if ridge < 0:
        raise MetricInputError(f"bradley_terry: ridge must be >= 0, got {ridge}")
    w = np.ones(len(battles)) if weights is None else np.asarray(weights, dtype=np.float64)
    m = len(battles.models)
    theta = _newton(_design(battles), battles.y, w, m, ridge)
    return theta[:m], theta[m:]


def to_rating(beta: np.ndarray) -> np.ndarray:
    """Log-odds strengths on the Elo scale of Table 9 (mean 1000, 400 points = 10:1 odds)."""
    return ELO_INIT + POINTS_PER_LOGIT * np.asarray(beta)


@dataclass(frozen=True)
class BTResult:
    models: tuple[str, ...]
    rating: np.ndarray  # [M] full-data maximum likelihood, Elo scale
    low: np.ndarray  # [M] bootstrap (1 - ci) / 2 quantile
    high: np.ndarray  # [M] bootstrap (1 + ci) / 2 quantile
    gamma: np.ndarray  # [S] style coefficients (log-odds per unit of covariate)
    gamma_low: np.ndarray  # [S]
    gamma_high: np.ndarray  # [S]
    rounds: int

    def rank_upper(self) -> list[int]:
        """Chatbot Arena's rank: 1 + the number of models whose lower bound beats this upper bound."""
        return [1 + int(np.sum(self.low > self.high[i])) for i in range(len(self.models))]


def bt_bootstrap(battles: Battles, rounds: int = 1000, seed: int = 0, ci: float = 0.95,
                 ridge: float = DEFAULT_RIDGE) -> BTResult:
    """MLE ratings with percentile-bootstrap intervals over battles resampled with replacement.

    Each round draws N battles with replacement (as multinomial weights on the N battles,
    which is the same distribution) and refits. A model that a round left without any
    battle has no rating in that round: its quantiles come from the rounds that saw it.
    """
    if len(battles) == 0:
        raise MetricInputError("bradley_terry: no battles to rate")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise MetricInputError(f"bradley_terry: rounds must be a positive int, got {rounds!r}")
    if not 0 < ci < 1:
        raise MetricInputError(f"bradley_terry: ci must be in (0, 1), got {ci}")
    beta, gamma = bt_fit(battles, ridge)
    m, s = len(battles.models), battles.z.shape[1]
    x, y, counts = _unique(_design(battles), battles.y)
    n = int(counts.sum())
    seen_by_row = np.abs(x[:, :m]) > 0  # [U, M] which models a distinct battle involves
    rng = np.random.default_rng(seed)
    betas = np.full((rounds, m), np.nan)
    gammas = np.full((rounds, s), np.nan)
    for r in range(rounds):
        w = rng.multinomial(n, counts / n).astype(np.float64)
        present = seen_by_row[w > 0].any(axis=0)
        theta = _newton(x, y, w, m, ridge)
        th_beta = theta[:m] - theta[:m][present].mean()  # centre on the models this round saw
        betas[r, present] = th_beta[present]
        gammas[r] = theta[m:]
    lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
    low, high = np.nanquantile(betas, [lo_q, hi_q], axis=0)
    if s:
        g_low, g_high = np.nanquantile(gammas, [lo_q, hi_q], axis=0)
    else:
        g_low = g_high = np.zeros(0)
    return BTResult(battles.models, to_rating(beta), to_rating(low), to_rating(high),
                    gamma, g_low, g_high, rounds)
