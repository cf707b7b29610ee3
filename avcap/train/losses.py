"""Training losses and the log-prob helpers they need: pure functions of tensors.

* :func:`dpo_loss` — sigmoid DPO (Rafailov et al. 2023) on summed sequence log-probs;
* :func:`gdpo_loss` — video-SALMONN 2's guided DPO, Eq. 9: DPO + λ · CE on the ground truth;
* :func:`sequence_logps` / :func:`token_nll_mean` — masked log-prob gathering from logits;
* :func:`grpo_advantages` — GRPO's group-normalised advantages (AVoCaDO Eq. 1).
* :func:`grpo_token_loss` — the clipped-ratio GRPO objective with the k3 KL to the reference (Eq. 2).

Precision: the DPO margin is a small difference of large sums (summed log-probs of a
600-word caption are around -500, where bfloat16 steps by 2), so every function upcasts
half-precision inputs to float32 and computes there; float64 inputs stay float64 (for
``torch.autograd.gradcheck``). Outputs have the computation's dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from avcap.errors import ConfigError, ModelError


def _compute_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def _batch_vectors(**tensors: torch.Tensor) -> list[torch.Tensor]:
    shape = None
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ModelError(f"{name} must be a floating-point tensor, got {type(t).__name__}")
        if t.dim() != 1 or t.numel() == 0:
            raise ModelError(f"{name} must have shape [B] with B >= 1, got {tuple(t.shape)}")
        if shape is not None and t.shape != shape:
            raise ModelError(f"{name} has shape {tuple(t.shape)}, the other inputs {tuple(shape)}")
        shape = t.shape
    dtype = _compute_dtype(next(iter(tensors.values())))
    return [t.to(dtype) for t in tensors.values()]


def dpo_loss(
    policy_chosen_logps: torch.Tensor,  # [B] summed log π_θ(y_win | x)
    policy_rejected_logps: torch.Tensor,  # [B] summed log π_θ(y_lose | x)
    ref_chosen_logps: torch.Tensor,  # [B] summed log π_ref(y_win | x)
    ref_rejected_logps: torch.Tensor,  # [B] summed log π_ref(y_lose | x)
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigmoid DPO: ``mean_B[-log σ(β (log π/π_ref)(y_win) - β (log π/π_ref)(y_lose))]``.

    Returns ``(loss, chosen_rewards, rejected_rewards)``: the scalar batch-mean loss and
    the implicit rewards ``β (policy - ref)`` per pair, detached (for logging: reward
    accuracy = mean(chosen > rejected), margin = mean(chosen - rejected)).

    Worked example (also in the tests): β = 0.1, policy chosen/rejected = -1 / -3,
    reference -2 / -2: rewards 0.1·1 = 0.1 and 0.1·(-1) = -0.1, margin 0.2,
    loss = -log σ(0.2) = log(1 + e^-0.2) = 0.598139.
    """
    beta = _positive("beta", beta)
    pc, pr, rc, rr = _batch_vectors(
        policy_chosen_logps=policy_chosen_logps,
        policy_rejected_logps=policy_rejected_logps,
        ref_chosen_logps=ref_chosen_logps,
        ref_rejected_logps=ref_rejected_logps,
    )
    chosen_logratios = pc - rc
    rejected_logratios = pr - rr
    # -log σ(z) computed as softplus(-z) inside logsigmoid: no overflow for large |z|.
    loss = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
    return loss, (beta * chosen_logratios).detach(), (beta * rejected_logratios).detach()


def gdpo_loss(
    policy_chosen_logps: torch.Tensor,  # [B]
    policy_rejected_logps: torch.Tensor,  # [B]
    ref_chosen_logps: torch.Tensor,  # [B]
    ref_rejected_logps: torch.Tensor,  # [B]
    gt_nll: torch.Tensor,  # [B'] mean token cross-entropy of ground-truth captions
    beta: float = 0.1,
    lam: float = 0.1,
) -> torch.Tensor:
    """Guided DPO, video-SALMONN 2 Eq. 9: the DPO loss plus λ times the ground-truth cross-entropy.

    Eq. 9 is printed as ``L_gDPO = -E[log σ(β log π/π_ref (y_win) - β log π/π_ref (y_lose))]
    + λ E_{(x, y_gt) ~ D_gt} log π_θ(y_gt | x)``. Read literally, the second term would
    *lower* the likelihood of the ground truth; the text calls it "cross-entropy learning
    towards the ground-truth video captions" that stabilises training, and the official
    release adds 0.1 × CE. So the term implemented is ``+ λ · CE = - λ · log π_θ(y_gt|x)``,
    with CE the mean token cross-entropy per caption (:func:`token_nll_mean`), averaged over
    the batch; λ = β = 0.1 in the paper (Appendix D). ``gt_nll`` may hold a different number
    of captions than there are pairs (the paper samples them from D_gt separately).

    Worked example: the :func:`dpo_loss` example (0.598139) with gt_nll = [2.0, 4.0] and
    λ = 0.1 gives 0.598139 + 0.1 · 3.0 = 0.898139.
    """
    lam = _positive("lam", lam, allow_zero=True)
    loss, _, _ = dpo_loss(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta
    )
    (nll,) = _batch_vectors(gt_nll=gt_nll)
    return loss + lam * nll.to(loss.dtype).mean()


def sequence_logps(
    logits: torch.Tensor,  # [B, T, V]
    labels: torch.Tensor,  # [B, T]
    ignore_index: int = -100,
    average: bool = False,
) -> torch.Tensor:  # [B]
    """Summed (or mean) log-prob of each sequence's labelled tokens.

    Same convention as transformers' causal-LM loss: ``labels`` is aligned with the
    *input* ids (prompt and padding set to ``ignore_index``), and the logits at position t
    predict the label at t + 1, so ``logits[:, :-1]`` is scored against ``labels[:, 1:]``.
    Positions labelled ``ignore_index`` contribute nothing; a row with no labelled token
    gives 0 (sum) and 0 (mean), which makes its DPO gradient zero rather than NaN.

    Computed one row at a time in float32 (float64 for float64 logits) as
    ``logit[label] - logsumexp(logits)``, so peak extra memory is one [T, V] row rather
    than a full [B, T, V] log-softmax copy. (TRL's ``selective_log_softmax`` does the same
    inside its trainer utilities; avcap keeps the loss module free of the optional TRL.)
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or not logits.is_floating_point():
        raise ModelError(
            f"logits must be a floating-point tensor [B, T, V], got {getattr(logits, 'shape', logits)!r}"
        )
    if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:2] or labels.is_floating_point():
        raise ModelError(
            f"labels must be an integer tensor [B, T] matching logits {tuple(logits.shape)}, "
            f"got {getattr(labels, 'shape', labels)!r}"
        )
    vocab = logits.shape[-1]
    targets = labels[:, 1:]  # [B, T-1]
    mask = targets != ignore_index  # [B, T-1]
    bad = mask & ((targets < 0) | (targets >= vocab))
    if bad.any():  # an out-of-range gather is a device-side assert on CUDA: fail here instead
        raise ModelError(
            f"labels hold token ids outside the vocabulary [0, {vocab}) (ignore_index={ignore_index})"
        )
    safe_targets = targets.masked_fill(~mask, 0).unsqueeze(-1)  # [B, T-1, 1]
    dtype = _compute_dtype(logits)
    rows = []
    for b in range(logits.shape[0]):
        row = logits[b, :-1].to(dtype)  # [T-1, V]
        token_logps = row.gather(-1, safe_targets[b]).squeeze(-1) - torch.logsumexp(row, dim=-1)  # [T-1]
        rows.append(token_logps)
    # where(), not a multiply: a masked position may gather a -inf logit, and -inf * 0 is NaN.
    token_logps = torch.where(mask, torch.stack(rows), 0.0)  # [B, T-1]
    total = token_logps.sum(-1)
    if not average:
        return total
    return total / mask.sum(-1).clamp(min=1).to(dtype)


def token_nll_mean(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean token cross-entropy per sequence, [B] (gDPO's ``gt_nll``); same shift as :func:`sequence_logps`.

    For one sequence this equals transformers' causal-LM loss on it.
    """
    return -sequence_logps(logits, labels, ignore_index=ignore_index, average=True)


def grpo_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """Group-normalised advantages, AVoCaDO Eq. 1 (GRPO, Shao et al. 2024): ``(r - mean) / (std + eps)``.

    ``rewards`` is [N * G] with each prompt's G responses contiguous (prompt-major, as
    :meth:`Captioner.caption` returns samples). The paper writes std without saying which;
    avcap uses the unbiased sample std (G - 1 in the denominator), as TRL's GRPO trainer
    does, and the same eps = 1e-4 added to it, so a group whose rewards are all equal gets
    advantages of exactly 0. Hence G >= 2.

    Worked example: rewards [1, 2, 3] in one group: mean 2, sample std 1, advantages
    [-1, 0, 1] / 1.0001.
    """
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ConfigError(
            f"group_size must be an int >= 2 (a group of one has no spread), got {group_size!r}"
        )
    eps = _positive("eps", eps, allow_zero=True)
    if not isinstance(rewards, torch.Tensor) or rewards.dim() != 1 or rewards.numel() == 0:
        raise ModelError(
            f"rewards must be a non-empty tensor [N * G], got {getattr(rewards, 'shape', rewards)!r}"
        )
    if rewards.numel() % group_size:
        raise ModelError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    grouped = rewards.to(_compute_dtype(rewards)).view(-1, group_size)  # [N, G]
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True, correction=1)
    return ((grouped - mean) / (std + eps)).reshape(-1)  # [N * G]


def grpo_token_loss(
    logps: torch.Tensor,  # [B, T] log π_θ(o_t | q, o_<t) of each sampled token (differentiable)
    old_logps: torch.Tensor,  # [B, T] the same under π_θold (the policy that sampled)
    ref_logps: torch.Tensor,  # [B, T] the same under π_ref
    advantages: torch.Tensor,  # [B] one per sampled response (:func:`grpo_advantages`)
    mask: torch.Tensor,  # [B, T] bool: True on the response's tokens
    epsilon: float = 0.2,
    beta: float = 0.04,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The GRPO objective (AVoCaDO eq. 2), negated as a loss to minimise.

    Eq. 2 writes the ratio per response; GRPO as AVoCaDO cites it (Shao et al. 2024, eq. 3) and
    TRL's ``GRPOTrainer`` compute it per token and average over each response's tokens, then
    over the responses::

        r_t   = exp(logp_t - old_t)
        surr  = min(r_t · A, clip(r_t, 1 - ε, 1 + ε) · A)
        kl_t  = exp(ref_t - logp_t) - (ref_t - logp_t) - 1      (Schulman's k3: unbiased, >= 0)
        loss  = mean_i [ Σ_t mask · (-(surr - β · kl_t)) / Σ_t mask ]

    A response with no token (an empty caption scored only by its end token still has one)
    contributes 0. Returns ``(loss, metrics)``; the metrics are detached: ``kl`` (the mean per
    token KL), ``clip_fraction`` (tokens whose ratio left [1 - ε, 1 + ε] on the side the
    advantage would push it further).

    Worked example (tests): one token, logp = old = log 0.5, ref = log 0.25, A = 1, β = 0.04:
    r = 1, surr = 1, kl = 0.5 - log 0.5 - 1 = 0.193147, loss = -(1 - 0.04 · 0.193147) = -0.992274.
    """
    epsilon = _positive("epsilon", epsilon)
    beta = _positive("beta", beta, allow_zero=True)
    for name, t in (("logps", logps), ("old_logps", old_logps), ("ref_logps", ref_logps)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or not t.is_floating_point():
            raise ModelError(f"{name} must be a floating-point tensor [B, T], got {getattr(t, 'shape', t)!r}")
        if t.shape != logps.shape:
            raise ModelError(f"{name} has shape {tuple(t.shape)}, logps {tuple(logps.shape)}")
    if not isinstance(mask, torch.Tensor) or mask.shape != logps.shape:
        raise ModelError(f"mask must be [B, T] = {tuple(logps.shape)}, got {getattr(mask, 'shape', mask)!r}")
    (adv,) = _batch_vectors(advantages=advantages)
    if adv.shape[0] != logps.shape[0]:
        raise ModelError(f"{adv.shape[0]} advantages for {logps.shape[0]} responses")
    dtype = _compute_dtype(logps)
    lp, old, ref = logps.to(dtype), old_logps.to(dtype), ref_logps.to(dtype)
    mask = mask.bool()
    adv = adv.to(dtype)[:, None]  # [B, 1]
    # where(), not a multiply: padded positions may hold anything, and exp() of it may overflow.
    ratio = torch.exp(torch.where(mask, lp - old.detach(), 0.0))
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - epsilon, 1 + epsilon) * adv)
    delta = torch.where(mask, ref.detach() - lp, 0.0)
    kl = torch.exp(delta) - delta - 1
    per_token = -(surrogate - beta * kl)
    counts = mask.sum(-1)  # [B]
    per_response = torch.where(mask, per_token, 0.0).sum(-1) / counts.clamp(min=1).to(dtype)
    loss = per_response.mean()
    n = counts.sum().clamp(min=1)
    clipped = ((ratio < 1 - epsilon) & (adv < 0)) | ((ratio > 1 + epsilon) & (adv > 0))
    metrics = {
        "kl": (torch.where(mask, kl, 0.0).sum() / n).detach(),
        "clip_fraction": ((clipped & mask).sum() / n).to(dtype).detach(),
    }
    return loss, metrics
