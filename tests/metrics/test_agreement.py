import numpy as np
import pytest

from avcap.metrics.agreement import average_ranks, cohen_kappa, pearson, spearman


def test_pearson_and_spearman_against_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(size=30)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    # Spearman = Pearson of the ranks; with ties the ranks are averaged (hand-worked below).
    assert average_ranks([3, 1, 3, 2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert spearman([3, 1, 3, 2], [1, 2, 3, 4]) == pytest.approx(np.corrcoef([3.5, 1, 3.5, 2], [1, 2, 3, 4])[0, 1])
    assert pearson([1, 1], [2, 3]) is None and pearson([1], [1]) is None


def test_cohen_kappa_hand_worked():
    # 10 items: both "yes" 5, both "no" 2, a yes / b no 2, a no / b yes 1: a says yes 7 times, b 6.
    a = ["y"] * 5 + ["n"] * 2 + ["y"] * 2 + ["n"]
    b = ["y"] * 5 + ["n"] * 2 + ["n"] * 2 + ["y"]
    p_o, p_e = 0.7, 0.7 * 0.6 + 0.3 * 0.4
    assert cohen_kappa(a, b) == pytest.approx((p_o - p_e) / (1 - p_e))
    assert cohen_kappa([1, 1], [1, 1]) is None and cohen_kappa([], []) is None
