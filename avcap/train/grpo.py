"""GRPO's training step (AVoCaDO §3.2.1): roll out, reward, normalise, score, clip, penalise the KL.

One ``Trainer`` micro-batch holds ``optim.batch_size`` clips. For each, :class:`GRPOObjective`

1. samples G captions from the current policy (the LoRA on; one batched ``caption`` call per
   prompt, clip-major) with the clip's frames and audio;
2. rewards them (:mod:`avcap.train.grpo_rewards`) and normalises within each clip's group
   (eq. 1, :func:`avcap.train.losses.grpo_advantages`); a caption whose reward failed gets the
   group mean (advantage 0), a group with fewer than two rewards is left out;
3. scores every caption's tokens under the policy (with gradients) and under the reference
   (``policy.reference()``: adapter off, start aligners; no gradients), and returns
   :func:`avcap.train.losses.grpo_token_loss`.

π_θold is the policy that sampled, i.e. the same weights (one optimisation step per rollout, TRL's
default ``num_iterations = 1``; the paper states no other), so ``old_logps`` is the policy's own
detached log-probs: the ratio is 1 at the step, its gradient is the advantage-weighted score, and
the clip of eq. 2 only acts when one batch is stepped on more than once.

Rollouts with their rewards are appended to ``rollouts.jsonl`` under the key
``(optimizer step, micro-batch, row id)``: a run killed after a step's rollouts and resumed from
an earlier checkpoint reuses them instead of sampling and judging again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avcap.data import DatasetRow
from avcap.media.clip import Clip
from avcap.models.base import GenerationConfig, TrainExample
from avcap.train.grpo_rewards import Reward, RewardFn
from avcap.train.losses import grpo_advantages, grpo_token_loss

log = logging.getLogger("avcap.train")


@dataclass
class PromptItem:
    row: DatasetRow
    prompt: str


@dataclass
class GRPOBatch:
    clips: list[Clip]  # [B]
    items: list[PromptItem]  # [B]

    def __len__(self) -> int:
        return len(self.items)


def collate_prompts(batch: list[tuple[Clip, PromptItem]]) -> GRPOBatch:
    return GRPOBatch([clip for clip, _ in batch], [item for _, item in batch])


def fill_failed(rewards: list[float | None], group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewards [N*G] with each failed (None) one replaced by its group's mean, and a [N*G] mask of
    the groups that keep at least two rewards (the others carry no comparison: advantage 0)."""
    values, keep = [], []
    for start in range(0, len(rewards), group_size):
        group = rewards[start:start + group_size]
        ok = [r for r in group if r is not None]
        mean = sum(ok) / len(ok) if ok else 0.0
        values += [mean if r is None else r for r in group]
        keep += [len(ok) >= 2] * len(group)
    return torch.tensor(values, dtype=torch.float64), torch.tensor(keep)


def strip_control_tokens(text: str, tokenizer) -> str:
    """``text`` without the strings of the tokenizer's special / added tokens.

    A sampled caption can decode to such a string (an ``<|audio_pad|>`` that decoding keeps, or
    one spelled out of byte pieces); scored as an answer, it would re-tokenize into a control
    token -- a media placeholder outside the media block breaks the forward pass. The caption is
    rewarded and trained on as cleaned, so what is scored is exactly what was judged.
    """
    specials = set(getattr(tokenizer, "all_special_tokens", [])) | set(getattr(tokenizer, "added_tokens_encoder", {}))
    for token in sorted(specials, key=len, reverse=True):
        if token and token in text:
            text = text.replace(token, "")
    return text.strip()


@dataclass
class GRPOObjective:
    rewards: RewardFn
    num_generations: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int | None = None
    epsilon: float = 0.2
    beta: float = 0.04
    seed: int = 0
    rollouts_path: Path | None = None
    trainer: Any = None  # set once the Trainer exists: its global_step keys the rollouts
    _micro: tuple[int, int] = (-1, 0)
    _store: Any = field(default=None, repr=False)
    step_log: list[dict] = field(default_factory=list)

    def bind(self, trainer) -> None:
        self.trainer = trainer

    def _key(self, step: int, micro: int, row_id: str) -> str:
        return f"{step}/{micro}/{row_id}"

    def _next_micro(self) -> tuple[int, int]:
        step = self.trainer.state.global_step if self.trainer is not None else 0
        last_step, micro = self._micro
        self._micro = (step, micro + 1 if step == last_step else 0)
        return self._micro

    def _appender(self):
        from avcap.data import JsonlAppender

        if self._store is None and self.rollouts_path is not None:
            self._store = JsonlAppender(self.rollouts_path, key=lambda r: r["key"]).__enter__()
        return self._store

    def rollout(self, captioner, batch: GRPOBatch, step: int, micro: int) -> list[dict]:
        """G captions + rewards per clip (from ``rollouts.jsonl`` when this step already made them)."""
        store = self._appender()
        keys = [self._key(step, micro, item.row.id) for item in batch.items]
        if store is not None and all(k in store.done for k in keys):
            return [store.rows[k] for k in keys]
        captions: list[list[str]] = [[] for _ in batch.items]
        was_training = captioner.model.training
        captioner.model.eval()
        try:
            for prompt in dict.fromkeys(item.prompt for item in batch.items):
                index = [i for i, item in enumerate(batch.items) if item.prompt == prompt]
                gen = GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                       top_p=self.top_p, num_samples=self.num_generations,
                                       seed=self.seed + 1_000_003 * step + 1009 * micro)
                with torch.no_grad():
                    texts = captioner.caption([batch.clips[i] for i in index], prompt, gen)
                for k, i in enumerate(index):
                    captions[i] = texts[k * self.num_generations:(k + 1) * self.num_generations]
        finally:
            captioner.model.train(was_training)
        tokenizer = captioner.tokenizer
        captions = [[strip_control_tokens(c, tokenizer) for c in group] for group in captions]
        flat_rows = [item.row for item in batch.items for _ in range(self.num_generations)]
        flat_caps = [c for group in captions for c in group]
        n_tokens = [len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in flat_caps]
        rewards: list[Reward] = self.rewards(flat_rows, flat_caps, n_tokens)
        records = []
        for i, item in enumerate(batch.items):
            part = slice(i * self.num_generations, (i + 1) * self.num_generations)
            records.append({"key": keys[i], "step": step, "micro": micro, "id": item.row.id,
                            "captions": captions[i], "n_tokens": n_tokens[part],
                            "rewards": [r.to_dict() for r in rewards[part]]})
        for record in records:
            for r in record["rewards"]:
                if r["error"]:
                    log.warning("step %d: %s: reward failed: %s", step, record["id"], r["error"])
            if store is not None:
                store.append(record)
        return records

    def __call__(self, model, policy, batch: GRPOBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        step, micro = self._next_micro()
        records = self.rollout(policy.captioner, batch, step, micro)
        g = self.num_generations
        examples = [TrainExample(clip, item.prompt, caption)
                    for clip, item, record in zip(batch.clips, batch.items, records)
                    for caption in record["captions"]]
        values = [r["reward"] for record in records for r in record["rewards"]]
        filled, keep = fill_failed(values, g)
        advantages = grpo_advantages(filled, g) * keep  # [B*G]
        logps, mask = model(examples, per_token=True)
        with torch.no_grad(), policy.reference():
            ref_logps, ref_mask = model(examples, per_token=True)
        if not torch.equal(mask, ref_mask):  # same examples, same layout: anything else is a bug
            raise RuntimeError("policy and reference scored different tokens")
        loss, parts = grpo_token_loss(logps, logps.detach(), ref_logps, advantages.to(logps.device), mask,
                                      epsilon=self.epsilon, beta=self.beta)
        ok = [v for v in values if v is not None]
        metrics = {**parts,
                   "reward": torch.tensor(sum(ok) / len(ok) if ok else float("nan")),
                   "reward_std": filled.view(-1, g).std(dim=1).mean().float(),
                   "reward_failed": torch.tensor(float(len(values) - len(ok))),
                   "completion_tokens": torch.tensor(float(sum(sum(r["n_tokens"]) for r in records)) / len(values))}
        for term in ("checklist", "dialogue", "length"):
            got = [r[term] for record in records for r in record["rewards"] if r[term] is not None]
            if got:
                metrics[f"rewards/{term}"] = torch.tensor(sum(got) / len(got))
        if step == 0 and micro == 0 and float(parts["kl"]) > 1e-6:
            log.warning("KL to the reference is %.3g before the first update: the reference is not the "
                        "start policy", float(parts["kl"]))
        self.step_log.append({"step": step, "micro": micro, **{k: float(v) for k, v in metrics.items()}})
        return loss, metrics

    def close(self) -> None:
        if self._store is not None:
            self._store.__exit__(None, None, None)
            self._store = None
