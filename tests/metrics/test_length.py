"""AVoCaDO length-regularised reward, Eq. 8 (τ1 = 2048, τ2 = 4096)."""

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.length import length_reward


@pytest.mark.parametrize(
    "n_tokens, expected",
    [
        (0, 1.0),
        (1437, 1.0),  # mean caption length of App. D.2
        (2047, 1.0),
        (2048, 1.0),  # τ1 <= len: 1 - 0/2048
        (2049, 1.0 - 1 / 2048),
        (3072, 0.5),
        (4095, 1 / 2048),
        (4096, 0.0),  # "otherwise"
        (100_000, 0.0),
    ],
)
def test_eq8_hand_values(n_tokens, expected):
    assert length_reward(n_tokens) == pytest.approx(expected, abs=1e-12)


def test_continuous_and_non_increasing():
    values = [length_reward(n) for n in range(0, 5000, 7)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert all(abs(a - b) <= 7 / 2048 + 1e-12 for a, b in zip(values, values[1:]))


def test_custom_thresholds():
    """soft 10, hard 20: 15 tokens -> 1 - 5/10 = 0.5."""
    assert length_reward(15, soft=10, hard=20) == 0.5
    assert length_reward(9, soft=10, hard=20) == 1.0


@pytest.mark.parametrize(
    "kwargs, cause",
    [
        ({"n_tokens": -1}, ">= 0"),
        ({"n_tokens": 10.5}, "integer"),
        ({"n_tokens": 10, "soft": 4096, "hard": 4096}, "below hard"),
        ({"n_tokens": 10, "soft": 5000, "hard": 4096}, "below hard"),
    ],
)
def test_rejects_bad_input(kwargs, cause):
    with pytest.raises(MetricInputError, match=cause):
        length_reward(**kwargs)
