"""Answer-token log-probs straight from hidden states, never holding the [N, vocab] logits.

In DPO the largest tensor of a step is often not an activation but the logits of every
scored answer token: N tokens × V vocabulary entries in float32 (a batch of 8 pairs of
600-token captions with Qwen's 152k vocabulary is 5.8 GB), kept for backward together
with its log-softmax. :func:`lm_head_logps` computes ``log softmax(h W^T)[target]`` in
chunks of tokens and recomputes each chunk's logits in backward, so only one
[chunk, V] block exists at a time (the technique of Liger's fused linear cross-entropy).
Written by hand because transformers has no public equivalent and TRL's version is
internal to its trainers.
"""

from __future__ import annotations

import torch


def _compute_dtype(device: torch.device, weight: torch.Tensor) -> torch.dtype:
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return weight.dtype


class _ChunkedLogps(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, chunk_size, dtype):  # [N, H], [V, H], [N]
        out = torch.empty(hidden.shape[0], device=hidden.device, dtype=torch.float32)
        lse = torch.empty_like(out)
        w = weight.to(dtype)
        for start in range(0, hidden.shape[0], chunk_size):
            end = start + chunk_size
            logits = (hidden[start:end].to(dtype) @ w.T).float()  # [c, V]
            lse[start:end] = torch.logsumexp(logits, dim=-1)
            out[start:end] = logits.gather(-1, targets[start:end, None])[:, 0] - lse[start:end]
        ctx.save_for_backward(hidden, weight, targets, lse)
        ctx.chunk_size, ctx.dtype = chunk_size, dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):  # grad_out [N]
        hidden, weight, targets, lse = ctx.saved_tensors
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = torch.zeros(weight.shape, device=weight.device, dtype=torch.float32) if need_w else None
        w = weight.to(ctx.dtype)
        for start in range(0, hidden.shape[0], ctx.chunk_size):
            end = start + ctx.chunk_size
            h = hidden[start:end].to(ctx.dtype)
            g = grad_out[start:end, None].float()
            # d log p[t] / d logits = onehot(t) - softmax, built in place in one [c, V] buffer
            grad_logits = (h @ w.T).float().sub_(lse[start:end, None]).exp_().mul_(-g)
            grad_logits.scatter_add_(-1, targets[start:end, None], g)
            if need_h:
                grad_h[start:end] = (grad_logits.to(ctx.dtype) @ w).to(hidden.dtype)
            if need_w:
                grad_w += grad_logits.T @ h.float()
        return grad_h, (grad_w.to(weight.dtype) if need_w else None), None, None, None


def lm_head_logps(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                  chunk_size: int = 256) -> torch.Tensor:
    """``log softmax(hidden @ weight.T)[targets]`` per row, float32 [N], in chunks of ``chunk_size`` rows.

    ``hidden`` [N, H] are the hidden states at the positions predicting ``targets`` [N];
    ``weight`` [V, H] is the LM head (no bias, as in Qwen). Under autocast the products run
    in the autocast dtype; log-softmax is always float32. Differentiable in both inputs.
    """
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden [N, H] and weight [V, H] expected, got {tuple(hidden.shape)}, {tuple(weight.shape)}")
    if targets.shape != hidden.shape[:1]:
        raise ValueError(f"targets must be [N] = [{hidden.shape[0]}], got {tuple(targets.shape)}")
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if hidden.shape[0] == 0:
        return (hidden.sum(-1) + weight.sum() * 0).float()  # empty, but still connected to the graph
    return _ChunkedLogps.apply(hidden, weight, targets, chunk_size, _compute_dtype(hidden.device, weight))
