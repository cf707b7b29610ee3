"""The leaderboard: three ratings of the same votes, the length effect, and agreement with a metric.

- **Elo (paper)**: online Elo in vote order with video-SALMONN 2's Table 9 parameters
  (initial 1000, base 10, scale 400, K = 8), reproducing the paper's protocol (Appendix G);
  the interval is the spread over shuffled vote orders, since online Elo depends on order.
- **Bradley–Terry**: the maximum-likelihood ratings with 95 % bootstrap intervals; this is
  the ranking to trust (Chatbot Arena moved from online Elo to it for this reason).
- **Length-controlled Bradley–Terry**: the same fit with the normalised caption-length
  difference as a covariate (LMArena's style control), so a model is not rewarded merely for
  writing more; the length coefficient is reported with its interval.

With an ``avcap eval`` report, each model's Total / Miss / Hall (video-SALMONN 2 metric) is
shown beside its ratings, with Spearman and Kendall rank correlations between ``-Total`` and
each rating (positive: the metric and the voters agree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from avcap.arena.bt import POINTS_PER_LOGIT, bt_bootstrap, length_feature, make_battles
from avcap.arena.qc import ranked_votes, voter_stats
from avcap.arena.votes import Vote, words
from avcap.metrics.elo import elo_bootstrap, elo_ratings

TABLE9 = {"k": 8.0, "init": 1000.0, "base": 10.0, "scale": 400.0}  # video-SALMONN 2, Table 9


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing their mean rank."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson correlation of the tie-averaged ranks); None when undefined."""
    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    if len(x) < 2:
        return None
    rx, ry = _ranks(x) - (len(x) + 1) / 2, _ranks(y) - (len(y) + 1) / 2
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom > 0 else None


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b over all pairs, tie-corrected; None when undefined."""
    if len(x) != len(y):
        raise ValueError("kendall: x and y differ in length")
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    n0 = concordant + discordant
    denom = math.sqrt((n0 + ties_x) * (n0 + ties_y))
    return (concordant - discordant) / denom if denom > 0 else None


def eval_metrics(report: dict, sources: dict[str, str] | None = None) -> dict[str, dict[str, float]]:
    """``{model: {"total", "miss", "hall"}}`` from an ``avcap eval`` report.

    A caption set matches an arena model by name (both default to the captions file's stem),
    else by the captions file path the arena was served with (``sources``).
    """
    by_path = {str(Path(p).resolve()): name for name, p in (sources or {}).items()}
    names = set(sources or {})
    out: dict[str, dict[str, float]] = {}
    for cset in report.get("caption_sets", []):
        metric = (cset.get("metrics") or {}).get("salmonn2") or {}
        if not metric.get("n_scored"):
            continue
        name = cset.get("name")
        if name not in names and cset.get("path"):
            name = by_path.get(str(Path(cset["path"]).resolve()), name)
        out[name] = {k: float(metric[k]) for k in ("total", "miss", "hall")}
    return out


def win_matrix(votes: Sequence[Vote], models: Sequence[str]) -> dict:
    """``rate[i][j]``: model i's score against j, (wins + ties / 2) / games; None if never met."""
    index = {m: i for i, m in enumerate(models)}
    m = len(models)
    wins, ties, games = np.zeros((m, m)), np.zeros((m, m)), np.zeros((m, m))
    for v in votes:
        i, j = index[v.model_left], index[v.model_right]
        games[i, j] += 1
        games[j, i] += 1
        if v.decisive:
            w, lo = (i, j) if v.answer == "left" else (j, i)
            wins[w, lo] += 1
        else:
            ties[i, j] += 1
            ties[j, i] += 1
    rate = [[(float((wins[i, j] + ties[i, j] / 2) / games[i, j]) if games[i, j] else None) for j in range(m)]
            for i in range(m)]
    return {"models": list(models), "rate": rate, "games": games.astype(int).tolist(),
            "wins": wins.astype(int).tolist()}


def _interval(rating: float, low: float, high: float) -> dict:
    return {"rating": float(rating), "low": float(low), "high": float(high)}


def leaderboard(all_votes: Sequence[Vote], *, report: dict | None = None, sources: dict[str, str] | None = None,
                rounds: int = 1000, seed: int = 0, min_agreement: float | None = None, min_gold_votes: int = 1,
                drop_ties: bool = False) -> dict:
    """Everything the leaderboard page and ``avcap arena rank`` show, as one JSON-able dict."""
    stats = voter_stats(all_votes, min_agreement, min_gold_votes)
    votes = ranked_votes(all_votes, stats)
    if drop_ties:
        votes = [v for v in votes if v.decisive]
    models = sorted({m for v in votes for m in (v.model_left, v.model_right)})
    board: dict = {
        "params": {"rounds": rounds, "seed": seed, "min_agreement": min_agreement, "min_gold_votes": min_gold_votes,
                   "ties": "dropped" if drop_ties else "half a win each (tie and both bad)", "elo": TABLE9},
        "n_votes": len(all_votes), "n_ranked": len(votes),
        "n_gold": sum(v.kind == "gold" for v in all_votes),
        "voters": [s.to_dict() for s in stats],
        "n_voters": len(stats), "n_excluded_voters": sum(s.excluded for s in stats),
        "models": [], "length_effect": None, "win_matrix": win_matrix(votes, models), "correlation": None,
    }
    if not votes:
        return board
    matches = [(v.model_left, v.model_right, v.result_left) for v in votes]
    battles = make_battles(matches, models=models)
    bt = bt_bootstrap(battles, rounds=rounds, seed=seed)
    z = length_feature([words(v.caption_left) for v in votes], [words(v.caption_right) for v in votes])
    lc = bt_bootstrap(make_battles(matches, z, models=models), rounds=rounds, seed=seed)
    elo = elo_ratings(matches, **TABLE9)  # in vote order: the caller passes votes sorted by time
    elo_ci = elo_bootstrap(matches, rounds=rounds, seed=seed, **TABLE9)
    metrics = eval_metrics(report, sources) if report else {}
    upper_bt, upper_lc = bt.rank_upper(), lc.rank_upper()
    rows = []
    for i, name in enumerate(models):
        mine = [v for v in votes if name in (v.model_left, v.model_right)]
        wins = sum(v.winner == name for v in mine)
        losses = sum(v.loser == name for v in mine)
        ties = sum(v.answer == "tie" for v in mine)
        bad = sum(v.answer == "bad" for v in mine)
        lengths = [words(v.caption_left if v.model_left == name else v.caption_right) for v in mine]
        rows.append({
            "model": name, "votes": len(mine), "wins": wins, "losses": losses, "ties": ties, "both_bad": bad,
            "win_rate": (wins + (ties + bad) / 2) / len(mine),
            "mean_words": float(np.mean(lengths)),
            "bt": {**_interval(bt.rating[i], bt.low[i], bt.high[i]), "rank": upper_bt[i]},
            "bt_length_controlled": {**_interval(lc.rating[i], lc.low[i], lc.high[i]), "rank": upper_lc[i]},
            "elo": {"rating": elo[name], "low": elo_ci[name]["low"], "high": elo_ci[name]["high"]},
            "metrics": metrics.get(name),
        })
    rows.sort(key=lambda r: -r["bt"]["rating"])
    board["models"] = rows
    gamma, g_low, g_high = float(lc.gamma[0]), float(lc.gamma_low[0]), float(lc.gamma_high[0])
    board["length_effect"] = {
        "feature": "(words_left - words_right) / (words_left + words_right), divided by its RMS",
        "gamma": gamma, "low": g_low, "high": g_high,
        "points": gamma * POINTS_PER_LOGIT,
        "p_longer_wins": 1.0 / (1.0 + math.exp(-gamma)),  # equal models, one RMS longer
    }
    scored = [r for r in rows if r["metrics"] is not None]
    if len(scored) >= 2:
        neg_total = [-r["metrics"]["total"] for r in scored]
        board["correlation"] = {
            "metric": "-Total (lower error is better)", "n_models": len(scored),
            **{key: {"spearman": spearman(neg_total, [r[key]["rating"] for r in scored]),
                     "kendall": kendall_tau_b(neg_total, [r[key]["rating"] for r in scored])}
               for key in ("bt", "bt_length_controlled", "elo")},
        }
    return board
