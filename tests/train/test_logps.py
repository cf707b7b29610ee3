"""Chunked LM-head log-probs against the naive log_softmax(h W^T)[t], values and gradients."""

from __future__ import annotations

import pytest
import torch

from avcap.train.logps import lm_head_logps


def _naive(hidden, weight, targets):
    return torch.log_softmax((hidden @ weight.T).float(), dim=-1).gather(-1, targets[:, None])[:, 0]


@pytest.mark.parametrize("n,chunk", [(7, 3), (8, 8), (5, 100), (1, 1)])
def test_matches_naive_values_and_gradients(n, chunk):
    gen = torch.Generator().manual_seed(n)
    hidden = torch.randn(n, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (n,), generator=gen)
    scale = torch.randn(n, generator=gen, dtype=torch.float64)
    ours = lm_head_logps(hidden, weight, targets, chunk_size=chunk)
    (ours.double() * scale).sum().backward()
    grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    ref = _naive(hidden, weight, targets)
    (ref * scale).sum().backward()
    torch.testing.assert_close(ours.double(), ref.double(), rtol=1e-5, atol=1e-5)  # float32 log-softmax
    torch.testing.assert_close(grads[0], hidden.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[1], weight.grad, rtol=1e-4, atol=1e-5)


def test_bfloat16_autocast_close_to_float32():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(12, 32, generator=gen)
    weight = torch.randn(64, 32, generator=gen) * 0.2
    targets = torch.randint(0, 64, (12,), generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = lm_head_logps(hidden, weight, targets, chunk_size=5)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, _naive(hidden, weight, targets), rtol=0.05, atol=0.1)


def test_frozen_head_gets_no_gradient_and_empty_input_is_fine():
    hidden = torch.randn(4, 8, requires_grad=True)
    weight = torch.randn(10, 8)
    lm_head_logps(hidden, weight, torch.tensor([1, 2, 3, 4])).sum().backward()
    assert weight.grad is None and hidden.grad is not None
    empty = lm_head_logps(torch.zeros(0, 8, requires_grad=True), weight, torch.zeros(0, dtype=torch.long))
    assert empty.shape == (0,)
    with pytest.raises(ValueError, match="targets"):
        lm_head_logps(hidden, weight, torch.tensor([1]))
