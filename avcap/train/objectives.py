"""The loss of each recipe, as a callable ``(model, policy, batch) -> (loss, metrics)``.

``model`` is what ``Trainer`` hands to ``compute_loss`` (possibly DDP/FSDP/DeepSpeed-wrapped,
so every forward goes through it); ``policy`` is the unwrapped :class:`PolicyModule`, used
for its ``reference()`` switch. The formulas themselves live in :mod:`avcap.train.losses`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from avcap.errors import DataError
from avcap.train.data import PreferenceBatch, SupervisedBatch
from avcap.train.losses import dpo_loss, gdpo_loss
from avcap.train.policy import SequenceScores

LN2 = math.log(2.0)  # DPO loss when policy == reference: -log σ(0)


def _scores(out) -> SequenceScores:
    logps, n_tokens = out
    return SequenceScores(logps, n_tokens)


@dataclass
class SFTObjective:
    """Cross-entropy on the answer tokens only (prompt and audio-visual tokens are not scored).

    Each answer's mean token NLL, averaged over the batch, so data-parallel ranks with equal
    batch sizes average to exactly the single-process loss of the combined batch.
    """

    def __call__(self, model, policy, batch: SupervisedBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        scores = _scores(model(batch.examples))
        nll = scores.mean_nll()  # [B]
        loss = nll.mean()
        return loss, {"nll": loss.detach(), "answer_tokens": scores.n_tokens.float().mean()}


@dataclass
class DPOObjective:
    """Sigmoid DPO, or gDPO = DPO + λ·CE(ground truth) (video-SALMONN 2 eq. 9).

    Policy: chosen, rejected, ground truth (and extra SFT rows) scored in one forward call;
    with ``concat_forward`` off the call scores them group by group (smaller peak memory,
    still one ``forward`` so DDP sees a single pass). Reference: chosen and rejected under
    ``policy.reference()`` and ``no_grad``.
    """

    beta: float = 0.1
    lam: float = 0.1
    gdpo: bool = True
    concat_forward: bool = True
    extra_weight: float = 1.0  # weight of the CE on extra SFT/QA rows (last MrDPO round)

    def _forward(self, model, groups: list[list]) -> list[SequenceScores]:
        sizes = [len(g) for g in groups]
        flat = [ex for g in groups for ex in g]
        out = _scores(model(flat) if self.concat_forward else model(flat, split=sizes))
        parts, start = [], 0
        for size in sizes:
            n_tokens = None if out.n_tokens is None else out.n_tokens[start : start + size]
            parts.append(SequenceScores(out.logps[start : start + size], n_tokens))
            start += size
        return parts

    def __call__(self, model, policy, batch: PreferenceBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        n = len(batch.chosen)
        if self.gdpo and len(batch.ground_truth) != n:
            raise DataError(f"gDPO batch has {n} pairs but {len(batch.ground_truth)} ground-truth captions")
        if n == 0 and not batch.extra:
            raise DataError("empty preference batch")
        metrics: dict[str, torch.Tensor] = {}
        groups = [batch.chosen, batch.rejected, batch.ground_truth if self.gdpo else [], batch.extra]
        policy_chosen, policy_rejected, gt, extra = self._forward(model, groups)
        loss = None
        if n:
            with torch.no_grad(), policy.reference():
                ref_chosen, ref_rejected, _, _ = self._forward(model, [batch.chosen, batch.rejected, [], []])
            args = (policy_chosen.logps, policy_rejected.logps, ref_chosen.logps, ref_rejected.logps)
            plain, chosen_rewards, rejected_rewards = dpo_loss(*args, beta=self.beta)
            if self.gdpo:
                gt_nll = gt.mean_nll()
                loss = gdpo_loss(*args, gt_nll, beta=self.beta, lam=self.lam)
                metrics["gt_nll"] = gt_nll.detach().mean()
            else:
                loss = plain
            metrics.update({
                "dpo_loss": plain.detach(),
                "rewards/chosen": chosen_rewards.mean(),
                "rewards/rejected": rejected_rewards.mean(),
                "rewards/accuracy": (chosen_rewards > rejected_rewards).float().mean(),
                "rewards/margin": (chosen_rewards - rejected_rewards).mean(),
                "logps/chosen": policy_chosen.logps.detach().mean(),
                "logps/rejected": policy_rejected.logps.detach().mean(),
            })
        if batch.extra:
            extra_nll = extra.mean_nll().mean()
            metrics["extra_nll"] = extra_nll.detach()
            weighted = self.extra_weight * extra_nll
            loss = weighted if loss is None else loss + weighted
        return loss, metrics
