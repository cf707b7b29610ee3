"""Leaderboard: Elo with Table 9, rank correlations, win matrix, eval join, gold-based exclusion."""

import math

import pytest

from avcap.arena.qc import ranked_votes, voter_stats
from avcap.arena.ranking import eval_metrics, kendall_tau_b, leaderboard, spearman, win_matrix
from avcap.arena.votes import GOLD_BETTER, GOLD_WORSE, Vote
from avcap.metrics.elo import elo_ratings


def vote(left, right, answer, voter="v1", video="x", kind="model", t=0.0, cl="one two", cr="one two three"):
    return Vote(voter, t, video, kind, left, right, cl, cr, answer)


def gold(voter, correct: bool, t=0.0):
    # the better caption is on the left; a correct voter answers "left"
    return vote(GOLD_BETTER, GOLD_WORSE, "left" if correct else "right", voter=voter, kind="gold", t=t)


def test_spearman_and_kendall_by_hand():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    # d = ranks differ by (0, 1, -1): rho = 1 - 6 * 2 / (3 * 8) = 0.5
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1], [2]) is None
    # pairs (1,2) C, (1,3) C, (2,3) D: tau = (2 - 1) / 3
    assert kendall_tau_b([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    # tie in x: tau-b = (C - D) / sqrt((n0 + tx)(n0 + ty)); x=[1,1,2], y=[1,2,3]: C=2, tx=1 -> 2/sqrt(3*2)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


def test_elo_is_the_papers_protocol_in_vote_order():
    votes = [vote("a", "b", "left", t=0), vote("b", "a", "left", t=1), vote("a", "b", "tie", t=2),
             vote("a", "b", "bad", t=3)]
    board = leaderboard(votes, rounds=20)
    expected = elo_ratings([("a", "b", 1.0), ("b", "a", 1.0), ("a", "b", 0.5), ("a", "b", 0.5)],
                           k=8, init=1000, base=10, scale=400)
    got = {r["model"]: r["elo"]["rating"] for r in board["models"]}
    assert got == pytest.approx(expected)
    # by hand: 1) a 1004, b 996; 2) E_b = 1 / (1 + 10^(8/400)) = 0.48849, b += 8 * 0.51151 -> a 999.9079;
    # 3), 4) a tie moves the lower-rated a up by 8 * (b - a) * ln(10) / 1600: +0.0021, +0.0021 -> 999.9121
    assert got["a"] == pytest.approx(999.9121, abs=1e-4)
    assert got["a"] + got["b"] == pytest.approx(2000)


def test_win_matrix_counts_ties_as_half():
    votes = [vote("a", "b", "left"), vote("b", "a", "left"), vote("a", "b", "tie"), vote("a", "c", "bad")]
    wm = win_matrix(votes, ["a", "b", "c"])
    assert wm["games"][0][1] == 3 and wm["wins"][0][1] == 1 and wm["wins"][1][0] == 1
    assert wm["rate"][0][1] == pytest.approx(0.5) and wm["rate"][0][2] == pytest.approx(0.5)
    assert wm["rate"][1][2] is None


def test_eval_join_and_correlation_sign():
    report = {"caption_sets": [
        {"name": "good", "path": "/x/good.jsonl", "metrics": {"salmonn2": {"n_scored": 3, "total": 0.2, "miss": 0.1, "hall": 0.1}}},
        {"name": "renamed", "path": "/x/mid.jsonl", "metrics": {"salmonn2": {"n_scored": 3, "total": 0.5, "miss": 0.3, "hall": 0.2}}},
        {"name": "bad", "path": "/x/bad.jsonl", "metrics": {"salmonn2": {"n_scored": 3, "total": 0.9, "miss": 0.5, "hall": 0.4}}},
        {"name": "unscored", "metrics": {"salmonn2": {"n_scored": 0}}},
    ]}
    sources = {"good": "/x/good.jsonl", "mid": "/x/mid.jsonl", "bad": "/x/bad.jsonl"}
    metrics = eval_metrics(report, sources)
    assert set(metrics) == {"good", "mid", "bad"}  # "renamed" matched by its file path
    assert metrics["mid"] == {"total": 0.5, "miss": 0.3, "hall": 0.2}
    votes = []
    for i in range(6):
        votes += [vote("good", "mid", "left", video=f"v{i}"), vote("mid", "bad", "left", video=f"v{i}"),
                  vote("bad", "good", "right", video=f"v{i}")]
    votes.append(vote("good", "bad", "right", video="w"))
    board = leaderboard(votes, report=report, sources=sources, rounds=30)
    assert [r["model"] for r in board["models"]] == ["good", "mid", "bad"]
    assert board["models"][0]["metrics"]["total"] == 0.2
    assert board["correlation"]["bt"]["spearman"] == pytest.approx(1.0)  # lower Total <-> higher rating
    assert board["correlation"]["n_models"] == 3


def test_gold_agreement_and_exclusion_restores_the_ranking():
    honest = [vote("strong", "weak", "left", voter="h", video=f"v{i}") for i in range(10)]
    honest += [gold("h", True) for _ in range(4)]
    # a careless voter who votes the other way much more often, and fails every gold pair
    careless = [vote("strong", "weak", "right", voter="c", video=f"v{i}") for i in range(30)]
    careless += [gold("c", False) for _ in range(4)]
    votes = honest + careless
    stats = {s.voter: s for s in voter_stats(votes, min_agreement=0.75, min_gold_votes=3)}
    assert stats["h"].agreement == 1.0 and not stats["h"].excluded
    assert stats["c"].agreement == 0.0 and stats["c"].excluded
    assert len(ranked_votes(votes, stats.values())) == 10
    unfiltered = leaderboard(votes, rounds=30)
    filtered = leaderboard(votes, rounds=30, min_agreement=0.75, min_gold_votes=3)
    assert unfiltered["models"][0]["model"] == "weak"
    assert filtered["models"][0]["model"] == "strong"
    assert filtered["n_excluded_voters"] == 1 and filtered["n_ranked"] == 10
    assert unfiltered["n_gold"] == 8 and unfiltered["n_ranked"] == 40  # gold never ranked


def test_too_few_gold_answers_do_not_exclude():
    votes = [gold("new", False), vote("a", "b", "left", voter="new")]
    (s,) = voter_stats(votes, min_agreement=0.9, min_gold_votes=2)
    assert not s.excluded and s.agreement == 0.0


def test_length_effect_is_reported_and_ties_can_be_dropped():
    votes = [vote("a", "b", "left", video=f"v{i}", cl="w " * 40, cr="w " * 10) for i in range(8)]
    votes += [vote("b", "a", "right", video=f"u{i}", cl="w " * 10, cr="w " * 40) for i in range(4)]
    votes += [vote("a", "b", "tie", video="t")]
    board = leaderboard(votes, rounds=20)
    le = board["length_effect"]
    assert set(le) >= {"gamma", "low", "high", "points", "p_longer_wins"}
    assert le["points"] == pytest.approx(le["gamma"] * 400 / math.log(10))
    assert leaderboard(votes, rounds=20, drop_ties=True)["n_ranked"] == 12


def test_empty_board():
    board = leaderboard([], rounds=5)
    assert board["models"] == [] and board["n_votes"] == 0
