"""Trainer-level checks on the tiny video-SALMONN 2+: which weights move, ln 2 at the first DPO step,
the SFT loss by hand, trainable-only checkpoints and resume."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import TrainerCallback

from avcap.errors import ModelError
from avcap.models.base import TrainExample
from avcap.train.configs import LoraArgs, OptimArgs
from avcap.train.data import (
    ClipDataset,
    PreferenceCollator,
    collate_supervised,
    load_rows,
    preference_items,
    supervised_items,
)
from avcap.train.objectives import LN2, DPOObjective, SFTObjective
from avcap.train.policy import PolicyModule
from avcap.train.trainer import (
    AvcapTrainer,
    last_checkpoint,
    load_trainable,
    save_trainable,
    training_arguments,
)

LORA = LoraArgs(r=4, alpha=2.0, dropout=0.0)


def _optim(**kw) -> OptimArgs:
    base = dict(max_steps=1, batch_size=2, learning_rate=1e-3, warmup_ratio=0.0, save_steps=0, logging_steps=1)
    return OptimArgs(**{**base, **kw})


def _trainer(policy, items, collator, objective, out, **optim) -> AvcapTrainer:
    args = training_arguments(_optim(**optim), out, use_cpu=True)
    return AvcapTrainer(model=policy, args=args, train_dataset=ClipDataset(items, "salmonn2"),
                        data_collator=collator, objective=objective)


def _pref_items(data_dir):
    return preference_items(load_rows(data_dir / "pref.jsonl", what="preference"), "Describe.", need_reference=True)


def test_dpo_step_moves_only_the_lora_and_aligner(captioner, data_dir, tmp_path):
    """One gDPO step: LoRA and aligner change, every other weight keeps its value and has no gradient."""
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True, no_dropout=True)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    trainer = _trainer(policy, _pref_items(data_dir), PreferenceCollator(True), DPOObjective(gdpo=True),
                       tmp_path / "run")
    trainer.train()
    trainable = set(policy.trainable_names())
    assert any("aligner" in n or ".audio." in n for n in trainable)
    for name, p in policy.named_parameters():
        if name in trainable:
            continue
        assert p.grad is None or not p.grad.any(), name
        assert torch.equal(p.detach(), before[name]), name
    lora_b = [n for n in trainable if "lora_B" in n]
    assert all(not before[n].any() for n in lora_b)  # fresh LoRA: B = 0 ...
    assert all(policy.get_parameter(n).detach().abs().sum() > 0 for n in lora_b)  # ... moved by the step
    aligner = [n for n in trainable if ".lora_" not in n]
    assert any(not torch.equal(policy.get_parameter(n).detach(), before[n]) for n in aligner)


def test_first_dpo_step_loss_is_ln2(captioner, data_dir, tmp_path):
    """Policy == reference before the first update: the DPO term is exactly ln 2, gDPO adds λ·CE."""
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True, no_dropout=True)
    trainer = _trainer(policy, _pref_items(data_dir), PreferenceCollator(True),
                       DPOObjective(beta=0.1, lam=0.1, gdpo=True), tmp_path / "run")
    trainer.train()
    first = trainer.first_step_metrics
    assert first["global_step"] == 0
    assert first["dpo_loss"] == pytest.approx(LN2, abs=1e-5)
    assert first["rewards/margin"] == pytest.approx(0.0, abs=1e-4)
    loss = trainer.state.log_history[0]["loss"]
    assert loss == pytest.approx(LN2 + 0.1 * first["gt_nll"], rel=1e-5)


def test_sft_loss_is_mean_answer_token_nll(captioner, data_dir, clip):
    """SFT loss = mean over answers of (-Σ log p(answer tokens) / #answer tokens), computed by hand."""
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True, no_dropout=True)
    examples = [TrainExample(clip, "Describe.", "a red square"), TrainExample(clip, "Describe.", "noise noise noise")]
    with torch.no_grad():
        logps, counts = captioner.sequence_logps(examples, return_counts=True)
        loss, metrics = SFTObjective()(policy, policy, collate_supervised([(clip, _item(e)) for e in examples]))
    expected = sum(-lp / n for lp, n in zip(logps.tolist(), counts.tolist())) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert counts.tolist()[0] != counts.tolist()[1]  # answers of different lengths: a per-answer mean


def _item(example):
    from avcap.data import DatasetRow
    from avcap.train.data import SupervisedItem

    row = DatasetRow(id="x", video=None, audio=None, prompt=None, reference=example.answer, events=None, raw={})
    return SupervisedItem(row, example.prompt, example.answer)


def test_trainable_checkpoint_roundtrip(captioner, tmp_path):
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True)
    with torch.no_grad():
        for p in policy.parameters():
            if p.requires_grad:
                p.add_(0.01)
    save_trainable(policy, tmp_path / "w.safetensors")
    saved = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for p in policy.parameters():
            if p.requires_grad:
                p.zero_()
    load_trainable(policy, tmp_path / "w.safetensors")
    for name, value in saved.items():
        assert torch.equal(policy.get_parameter(name).detach(), value)
    other = PolicyModule.build(_fresh(), lora=LoraArgs(r=4, targets=["q_proj"]), train_aligner=True)
    with pytest.raises(ModelError, match="does not match"):
        load_trainable(other, tmp_path / "w.safetensors")


def _fresh():
    from avcap.models import load_captioner

    return load_captioner("tiny:salmonn2", device="cpu")


class _KillAfterFirstStep(TrainerCallback):
    """Stops training right after step 1 is saved: what a kill between steps leaves on disk."""

    def on_save(self, args, state, control, **kwargs):
        control.should_training_stop = True


def test_resume_continues_where_a_killed_run_stopped(data_dir, tmp_path):
    """2 steps straight == 1 step, 'killed', then resumed from checkpoint-1 to step 2."""
    items = supervised_items(load_rows(data_dir / "train.jsonl", what="t"), "Describe.")

    def run(out, resume=None, kill=False):
        policy = PolicyModule.build(_fresh(), lora=LORA, train_aligner=True, no_dropout=True)
        trainer = _trainer(policy, items, collate_supervised, SFTObjective(), out, max_steps=2, save_steps=1,
                           batch_size=1)
        if kill:
            trainer.add_callback(_KillAfterFirstStep())
        trainer.train(resume_from_checkpoint=resume)
        return policy, trainer

    straight, _ = run(tmp_path / "a")
    _, killed = run(tmp_path / "b", kill=True)
    assert killed.state.global_step == 1
    resumed, trainer = run(tmp_path / "b", resume=last_checkpoint(tmp_path / "b"))
    assert trainer.state.global_step == 2
    for name in straight.trainable_names():
        torch.testing.assert_close(resumed.get_parameter(name), straight.get_parameter(name), rtol=1e-4, atol=1e-6)
    assert math.isfinite(trainer.state.log_history[-1]["train_loss"])
