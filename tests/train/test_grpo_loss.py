"""grpo_token_loss (AVoCaDO eq. 2, per token as in GRPO / TRL) against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from avcap.errors import ModelError
from avcap.train.losses import grpo_advantages, grpo_token_loss


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_worked_example_ratio_one_with_kl():
    lp = t([math.log(0.5)])
    loss, m = grpo_token_loss(lp, lp, t([math.log(0.25)]), t(1.0)[0:1], torch.ones(1, 1, dtype=torch.bool), beta=0.04)
    kl = 0.5 - math.log(0.5) - 1  # exp(ref - lp) - (ref - lp) - 1 with ref - lp = log 0.5
    assert float(m["kl"]) == pytest.approx(kl)
    assert float(loss) == pytest.approx(-(1 - 0.04 * kl)) == pytest.approx(-0.992274, abs=1e-6)


def test_clipping_positive_advantage_caps_the_ratio_and_stops_the_gradient():
    lp = t([math.log(0.6)]).requires_grad_()
    old = t([math.log(0.4)])  # ratio 1.5 > 1 + 0.2
    loss, m = grpo_token_loss(lp, old, lp.detach(), t(2.0)[0:1], torch.ones(1, 1, dtype=torch.bool), epsilon=0.2, beta=0.0)
    assert float(loss) == pytest.approx(-1.2 * 2.0)
    loss.backward()
    assert float(lp.grad) == 0.0 and float(m["clip_fraction"]) == 1.0


def test_clipping_negative_advantage_keeps_the_unclipped_term():
    lp = t([math.log(0.6)]).requires_grad_()
    old = t([math.log(0.4)])
    loss, m = grpo_token_loss(lp, old, lp.detach(), t(-1.0)[0:1], torch.ones(1, 1, dtype=torch.bool), beta=0.0)
    assert float(loss) == pytest.approx(1.5)  # min(-1.5, -1.2) = -1.5
    loss.backward()
    assert float(lp.grad) == pytest.approx(1.5)  # d(-ratio·A)/d lp = -A·ratio = 1.5
    assert float(m["clip_fraction"]) == 0.0


def test_per_response_token_mean_then_batch_mean_and_padding_ignored():
    # response 0: 1 token, response 1: 2 tokens; ratio 1, beta 0 -> per token -A
    lp = t([0.0, 123.0], [0.0, 0.0])
    mask = torch.tensor([[True, False], [True, True]])
    loss, _ = grpo_token_loss(lp, lp, lp, torch.tensor([1.0, -3.0], dtype=torch.float64), mask, beta=0.0)
    assert float(loss) == pytest.approx((-1.0 + 3.0) / 2)


def test_kl_gradient_pulls_towards_the_reference():
    lp = t([math.log(0.5)]).requires_grad_()
    ref = t([math.log(0.25)])
    loss, _ = grpo_token_loss(lp, lp.detach(), ref, torch.zeros(1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.bool), beta=1.0)
    loss.backward()
    # d/dlp [exp(ref - lp) - (ref - lp) - 1] = -exp(ref - lp) + 1 = 0.5 > 0: descent lowers lp
    assert float(lp.grad) == pytest.approx(0.5)


def test_advantage_weighted_gradient_sign():
    """Ratio 1 (π_old = π_θ): the gradient of the loss w.r.t. each token log-prob is -A / |o_i| / B."""
    lp = t([0.1, 0.2], [0.3, 0.0]).requires_grad_()
    mask = torch.tensor([[True, True], [True, False]])
    adv = grpo_advantages(torch.tensor([2.0, 0.0], dtype=torch.float64), group_size=2)
    loss, _ = grpo_token_loss(lp, lp.detach(), lp.detach(), adv, mask, beta=0.04)
    loss.backward()
    a = float(adv[0])
    assert lp.grad[0, 0] == pytest.approx(-a / 2 / 2) and lp.grad[1, 0] == pytest.approx(a / 1 / 2)
    assert float(lp.grad[1, 1]) == 0.0


def test_shapes_are_checked():
    lp = t([0.0])
    with pytest.raises(ModelError):
        grpo_token_loss(lp, t([0.0, 0.0]), lp, torch.ones(1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.bool))
    with pytest.raises(ModelError):
        grpo_token_loss(lp, lp, lp, torch.ones(2, dtype=torch.float64), torch.ones(1, 1, dtype=torch.bool))


def test_svg_line_chart_and_grpo_report(tmp_path):
    import json

    from avcap.eval.report_svg import svg_line_chart
    from avcap.train.grpo_report import build, write

    svg = svg_line_chart({"a": [(0, 1.0), (1, 2.0)]}, title="R")
    assert svg.startswith("<svg") and "polyline" in svg
    ev = {"total": 0.5, "miss": 0.3, "hall": 0.2, "checklist_coverage": 0.4, "dialogue_mean": 1.0,
          "length_mean": 1.0, "mean_tokens": 40.0}
    (tmp_path / "rc").mkdir()
    (tmp_path / "rc" / "report.json").write_text(json.dumps(
        {"eval_start": ev, "eval_final": {**ev, "total": 0.4}, "reward_curve": [{"step": 0, "reward": 0.1, "checklist": 0.1},
                                                                              {"step": 1, "reward": 0.2, "checklist": 0.2}]}))
    data = build(tmp_path, "configs/nano/grpo.yaml")
    write(tmp_path, data)
    md = (tmp_path / "report.md").read_text()
    assert "| start (builtin:nano) | 50.0 |" in md and "| GRPO R_C | 40.0 |" in md
    assert "<svg" in (tmp_path / "report.html").read_text()
