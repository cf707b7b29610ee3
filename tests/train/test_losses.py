"""DPO / gDPO losses, log-prob gathering and GRPO advantages against hand-worked values."""

import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from transformers.loss.loss_utils import ForCausalLMLoss

from avcap.errors import ConfigError, ModelError
from avcap.train.losses import dpo_loss, gdpo_loss, grpo_advantages, sequence_logps, token_nll_mean


def t(*values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


# ---------------------------------------------------------------- DPO / gDPO


def test_dpo_hand_computed():
    """β = 0.1; policy chosen/rejected -1/-3; reference -2/-2.
    chosen reward 0.1·(-1 + 2) = 0.1, rejected 0.1·(-3 + 2) = -0.1, margin 0.2;
    loss = -log σ(0.2) = log(1 + e^-0.2) = log(1.8187308) = 0.5981389."""
    loss, chosen, rejected = dpo_loss(t(-1.0), t(-3.0), t(-2.0), t(-2.0), beta=0.1)
    assert loss.item() == pytest.approx(0.5981389, abs=1e-6)
    assert chosen.tolist() == pytest.approx([0.1]) and rejected.tolist() == pytest.approx([-0.1])


def test_dpo_is_batch_mean():
    """Second pair: margin 0.1·((0 - 0) - (0 - 10)) = 1 -> -log σ(1) = log(1 + e^-1) = 0.3132617.
    Batch mean: (0.5981389 + 0.3132617) / 2 = 0.4557003."""
    loss, chosen, rejected = dpo_loss(t(-1.0, 0.0), t(-3.0, -10.0), t(-2.0, 0.0), t(-2.0, 0.0))
    assert loss.item() == pytest.approx(0.4557003, abs=1e-6)
    assert chosen.shape == rejected.shape == (2,)


def test_dpo_equals_ln2_when_policy_is_reference():
    """Every log-ratio is 0, so the margin is 0 and the loss is -log σ(0) = ln 2 = 0.693147."""
    logps = torch.randn(4) * 50 - 300
    other = torch.randn(4) * 50 - 300
    loss, chosen, rejected = dpo_loss(logps, other, logps, other, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    assert torch.all(chosen == 0) and torch.all(rejected == 0)


def test_dpo_rewards_are_detached_and_loss_differentiable():
    pc = t(-1.0, -2.0).requires_grad_()
    pr = t(-3.0, -1.0).requires_grad_()
    loss, chosen, rejected = dpo_loss(pc, pr, t(-2.0, -2.0), t(-2.0, -2.0))
    assert not chosen.requires_grad and not rejected.requires_grad
    loss.backward()
    # d/dz[-log σ(z)] = -(1 - σ(z)); z grows with the chosen log-prob, so its gradient is negative
    assert torch.all(pc.grad < 0) and torch.all(pr.grad > 0)


def test_dpo_extreme_margins_stay_finite():
    loss, _, _ = dpo_loss(t(0.0), t(-1e5), t(-1e5), t(0.0), beta=1.0)  # margin +2e5
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    loss, _, _ = dpo_loss(t(-1e5), t(0.0), t(0.0), t(-1e5), beta=1.0)  # margin -2e5
    assert loss.item() == pytest.approx(2e5, rel=1e-6)


def test_gdpo_hand_computed():
    """The DPO example (0.5981389) plus λ·mean(gt_nll) = 0.1·(2 + 4)/2 = 0.3 -> 0.8981389."""
    loss = gdpo_loss(t(-1.0), t(-3.0), t(-2.0), t(-2.0), gt_nll=t(2.0, 4.0), beta=0.1, lam=0.1)
    assert loss.item() == pytest.approx(0.8981389, abs=1e-6)


def test_gdpo_with_zero_lambda_is_dpo_and_term_lowers_gt_nll():
    args = (t(-1.0, -5.0), t(-3.0, -4.0), t(-2.0, -5.5), t(-2.0, -3.0))
    assert gdpo_loss(*args, gt_nll=t(9.0, 9.0), lam=0.0).item() == pytest.approx(dpo_loss(*args)[0].item())
    gt_nll = t(2.0, 3.0).requires_grad_()
    gdpo_loss(*args, gt_nll=gt_nll, lam=0.1).backward()
    # descending the loss lowers the ground truth's cross-entropy (Eq. 9 read as +λ·CE)
    assert gt_nll.grad.tolist() == pytest.approx([0.05, 0.05])


def test_gradcheck_dpo_and_gdpo_float64():
    torch.manual_seed(0)
    inputs = [(torch.randn(3, dtype=torch.float64) * 3).requires_grad_() for _ in range(5)]
    assert torch.autograd.gradcheck(lambda a, b, c, d: dpo_loss(a, b, c, d, beta=0.3)[0], inputs[:4])
    assert torch.autograd.gradcheck(lambda a, b, c, d, e: gdpo_loss(a, b, c, d, e, beta=0.3, lam=0.2), inputs)


def test_bf16_inputs_agree_with_fp32():
    """Log-probs in [-10, 0] rounded to bfloat16 (step <= 1/16) give nearly the same loss; it is
    computed and returned in float32."""
    torch.manual_seed(1)
    values = [-10 * torch.rand(16) for _ in range(4)]
    loss32, c32, r32 = dpo_loss(*values)
    loss16, c16, r16 = dpo_loss(*[v.to(torch.bfloat16) for v in values])
    assert loss16.dtype == torch.float32
    assert loss16.item() == pytest.approx(loss32.item(), abs=1e-2)
    assert torch.allclose(c16, c32, atol=2e-2) and torch.allclose(r16, r32, atol=2e-2)


def test_bf16_large_sums_are_not_computed_in_bf16():
    """Summed log-probs near -500 (bfloat16 steps by 2 there): -500, -510 and -502, -510 are exact in
    bfloat16. Margin 0.1·((-500 + 502) - 0) = 0.2 -> 0.5981389; a bfloat16 computation would round the
    loss to 0.59765625."""
    values = [t(-500.0), t(-510.0), t(-502.0), t(-510.0)]
    loss, _, _ = dpo_loss(*[v.to(torch.bfloat16) for v in values])
    assert loss.item() == pytest.approx(0.5981389, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, cause",
    [
        ({"beta": 0.0}, ConfigError, "beta"),
        ({"beta": float("nan")}, ConfigError, "beta"),
        ({"ref_rejected_logps": t(-1.0, -2.0)}, ModelError, "shape"),
        ({"ref_rejected_logps": torch.tensor([1, 2])}, ModelError, "floating-point"),
        ({"policy_chosen_logps": torch.zeros(2, 1)}, ModelError, r"shape \[B\]"),
    ],
)
def test_dpo_rejects_bad_input(kwargs, error, cause):
    args = {
        "policy_chosen_logps": t(-1.0),
        "policy_rejected_logps": t(-2.0),
        "ref_chosen_logps": t(-1.0),
        "ref_rejected_logps": t(-2.0),
    }
    args.update(kwargs)
    with pytest.raises(error, match=cause):
        dpo_loss(**args)


def test_gdpo_rejects_negative_lambda():
    with pytest.raises(ConfigError, match="lam"):
        gdpo_loss(t(-1.0), t(-2.0), t(-1.0), t(-2.0), gt_nll=t(1.0), lam=-0.1)


# ---------------------------------------------------------------- log-prob gathering


def naive_sequence_logps(logits, labels, ignore_index=-100, average=False):
    """Python loop: token t + 1 is scored by the logits at position t."""
    out = []
    for b in range(logits.shape[0]):
        total, count = 0.0, 0
        for pos in range(1, logits.shape[1]):
            label = int(labels[b, pos])
            if label == ignore_index:
                continue
            total += torch.log_softmax(logits[b, pos - 1].double(), dim=-1)[label].item()
            count += 1
        out.append(total / max(count, 1) if average else total)
    return torch.tensor(out, dtype=torch.float64)


def _batch(seed=0, b=3, length=7, vocab=11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, length, vocab, generator=g) * 3
    labels = torch.randint(0, vocab, (b, length), generator=g)
    labels[0, :3] = -100  # prompt
    labels[1, -2:] = -100  # padding
    labels[-1, length // 2] = -100  # a hole in the middle
    return logits, labels


def test_sequence_logps_hand_computed():
    """V = 2, T = 3, one sequence. Logits at t = 0: [0, 0] -> log 1/2 for any label; at t = 1: [ln 3, 0]
    -> label 0 has log 3/4. labels = [-100, 1, 0] (prompt, then two answer tokens):
    sum = log(1/2) + log(3/4) = -0.9808293; mean = -0.4904146."""
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, -5.0]]])
    labels = torch.tensor([[-100, 1, 0]])
    assert sequence_logps(logits, labels).item() == pytest.approx(-0.9808293, abs=1e-6)
    assert sequence_logps(logits, labels, average=True).item() == pytest.approx(-0.4904146, abs=1e-6)


@pytest.mark.parametrize("average", [False, True])
def test_sequence_logps_matches_naive_loop(average):
    logits, labels = _batch()
    got = sequence_logps(logits, labels, average=average)
    assert got.shape == (3,) and got.dtype == torch.float32
    assert torch.allclose(got.double(), naive_sequence_logps(logits, labels, average=average), atol=1e-5)


def test_custom_ignore_index_and_all_masked_row():
    logits, labels = _batch(seed=2)
    labels[labels == -100] = 0
    labels[1] = 0  # nothing to score in row 1
    got = sequence_logps(logits, labels, ignore_index=0)
    assert torch.allclose(got.double(), naive_sequence_logps(logits, labels, ignore_index=0), atol=1e-5)
    assert got[1].item() == 0.0
    assert sequence_logps(logits, labels, ignore_index=0, average=True)[1].item() == 0.0


def test_masked_minus_inf_logit_does_not_give_nan():
    logits, labels = _batch()
    logits[0, :2, 0] = float("-inf")  # positions predicting masked labels gather token 0 internally
    logits = logits.requires_grad_()
    out = sequence_logps(logits, labels)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_bf16_logits_agree_with_fp32():
    logits, labels = _batch(seed=3)
    fp32 = sequence_logps(logits, labels)
    bf16 = sequence_logps(logits.to(torch.bfloat16), labels)
    assert bf16.dtype == torch.float32
    # the only error is rounding the logits to bfloat16 (relative 2^-8)
    assert torch.allclose(bf16, fp32, atol=0.15)
    assert torch.allclose(bf16, sequence_logps(logits.to(torch.bfloat16).float(), labels), atol=1e-5)


def test_token_nll_mean_matches_transformers_causal_lm_loss():
    """Same shift convention as transformers: for one sequence the mean NLL equals its loss."""
    logits, labels = _batch(seed=4)
    nll = token_nll_mean(logits, labels)
    for b in range(logits.shape[0]):
        reference = ForCausalLMLoss(logits[b : b + 1], labels[b : b + 1], vocab_size=logits.shape[-1])
        assert nll[b].item() == pytest.approx(reference.item(), abs=1e-5)
    flat = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), reduction="sum")
    assert (-sequence_logps(logits, labels).sum()).item() == pytest.approx(flat.item(), rel=1e-5)


def test_sequence_logps_gradcheck_float64():
    logits, labels = _batch(seed=5, b=2, length=4, vocab=5)
    logits = logits.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: sequence_logps(x, labels, average=True), (logits,))


@pytest.mark.parametrize(
    "logits, labels, cause",
    [
        (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), r"\[B, T, V\]"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long), "matching logits"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3), "integer"),
        (torch.zeros(1, 3, 4), torch.tensor([[0, 1, 4]]), "outside the vocabulary"),
        (torch.zeros(1, 3, 4), torch.tensor([[0, -5, 1]]), "outside the vocabulary"),
    ],
)
def test_sequence_logps_rejects_bad_input(logits, labels, cause):
    with pytest.raises(ModelError, match=cause):
        sequence_logps(logits, labels)


# ---------------------------------------------------------------- GRPO


def test_grpo_advantages_hand_computed():
    """Group [1, 2, 3]: mean 2, sample std 1 -> [-1, 0, 1] / (1 + 1e-4).
    Group [4, 4, 4]: std 0 -> all 0 (not NaN)."""
    adv = grpo_advantages(t(1.0, 2.0, 3.0, 4.0, 4.0, 4.0), group_size=3)
    assert adv.tolist() == pytest.approx([-1 / 1.0001, 0.0, 1 / 1.0001, 0.0, 0.0, 0.0])


def test_grpo_advantages_against_statistics_module():
    torch.manual_seed(6)
    rewards = torch.rand(4 * 8) * 3  # 4 prompts x 8 samples (AVoCaDO samples 8 per query)
    adv = grpo_advantages(rewards, group_size=8, eps=1e-4)
    for g in range(4):
        group = rewards[g * 8 : (g + 1) * 8].tolist()
        mean, std = statistics.fmean(group), statistics.stdev(group)  # unbiased: n - 1
        expected = [(r - mean) / (std + 1e-4) for r in group]
        assert adv[g * 8 : (g + 1) * 8].tolist() == pytest.approx(expected, abs=1e-5)
    assert adv.view(4, 8).sum(dim=1).abs().max().item() < 1e-5  # zero mean per group


def test_grpo_advantages_dtypes():
    assert grpo_advantages(torch.tensor([1, 2, 3, 4]), 2).dtype == torch.float32  # integer rewards
    assert grpo_advantages(t(1.0, 2.0, dtype=torch.float64), 2).dtype == torch.float64
    bf16 = grpo_advantages(t(0.5, 1.5, 2.5, 3.0).to(torch.bfloat16), 4)
    assert bf16.dtype == torch.float32


@pytest.mark.parametrize(
    "rewards, group_size, error, cause",
    [
        (t(1.0, 2.0, 3.0), 2, ModelError, "groups of 2"),
        (t(1.0, 2.0), 1, ConfigError, ">= 2"),
        (t(1.0, 2.0), True, ConfigError, ">= 2"),
        (torch.zeros(2, 2), 2, ModelError, r"\[N \* G\]"),
        (torch.zeros(0), 2, ModelError, "non-empty"),
    ],
)
def test_grpo_rejects_bad_input(rewards, group_size, error, cause):
    with pytest.raises(error, match=cause):
        grpo_advantages(rewards, group_size)
