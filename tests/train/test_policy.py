"""LoRA placement, merge (eq. 8), the adapter-disabled reference, dropout: on the tiny video-SALMONN 2+."""

from __future__ import annotations

import pytest
import torch

from avcap.errors import ModelError
from avcap.models.base import TrainExample
from avcap.train.configs import LoraArgs
from avcap.train.policy import PolicyModule, disable_dropout, param_group

LORA = LoraArgs(r=4, alpha=2.0, dropout=0.0)


def _examples(clip):
    return [TrainExample(clip, "Describe the video.", "a red square moves right"),
            TrainExample(clip, "Describe the video.", "noise")]


def _randomize_lora(policy, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def test_lora_targets_only_the_llm(captioner):
    llm_ids = {id(p) for p in param_group(captioner, "llm")}
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True)
    lora_layers = [n for n, m in policy.named_modules() if hasattr(m, "lora_A") and n.rsplit(".", 1)[-1] in LORA.targets]
    assert lora_layers and all(".language_model." in n for n in lora_layers)
    n_layers = captioner.model.llm.config.text_config.num_hidden_layers
    assert len(lora_layers) == 7 * n_layers  # q k v o gate up down in every decoder layer
    # Whisper's and the vision tower's q_proj / mlp layers are not adapted.
    for name, module in captioner.model.named_modules():
        if name.startswith(("audio.", "llm.model.visual.")):
            assert not hasattr(module, "lora_A"), name
    assert all(id(m.base_layer.weight) in llm_ids for n, m in policy.named_modules() if n in lora_layers)


def test_only_lora_and_aligner_are_trainable(captioner):
    aligner = {id(p) for p in param_group(captioner, "audio_aligner")}
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True)
    for name, p in policy.named_parameters():
        assert p.requires_grad == (".lora_" in name or id(p) in aligner), name
    assert any(".lora_" in n for n in policy.trainable_names())


def test_align_trains_only_the_aligner(captioner):
    policy = PolicyModule.build(captioner, lora=None, train_aligner=True)
    aligner = {id(p) for p in param_group(captioner, "audio_aligner")}
    assert {id(p) for p in policy.parameters() if p.requires_grad} == aligner
    with pytest.raises(ModelError, match="reference"):
        with policy.reference():
            pass


def test_merge_equals_model_with_adapter(captioner, clip):
    """After the merge (eq. 8) the plain model computes what the model with its adapter did."""
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True)
    _randomize_lora(policy)
    layer = captioner.model.llm.model.language_model.layers[0].self_attn.q_proj
    expected_w = layer.base_layer.weight + LORA.alpha * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
    with torch.no_grad():
        before = policy(_examples(clip))[0]
    merged = policy.merge()
    assert merged is captioner.model
    assert not any(hasattr(m, "lora_A") for m in captioner.model.modules())
    merged_layer = captioner.model.llm.model.language_model.layers[0].self_attn.q_proj
    assert type(merged_layer) is torch.nn.Linear
    torch.testing.assert_close(merged_layer.weight, expected_w, rtol=0, atol=1e-6)  # W + α·BA
    with torch.no_grad():
        after = captioner.sequence_logps(_examples(clip))
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-4)
    assert not torch.allclose(after, _base_logps(clip), atol=1e-3)  # the adapter did change the model


def _base_logps(clip):
    from avcap.models import load_captioner

    with torch.no_grad():
        return load_captioner("tiny:salmonn2", device="cpu").sequence_logps(_examples(clip))


def test_reference_is_the_round_start_model(captioner, clip):
    """Adapter disabled and the aligner's round-start values swapped in = the model before training."""
    start = _base_logps(clip)
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True, no_dropout=True)
    policy.eval()
    _randomize_lora(policy)
    with torch.no_grad():
        for p in param_group(captioner, "audio_aligner"):
            p.add_(0.1)
        changed = policy(_examples(clip))[0]
        with policy.reference():
            reference = policy(_examples(clip))[0]
        again = policy(_examples(clip))[0]
    torch.testing.assert_close(reference, start, rtol=1e-5, atol=1e-4)
    assert not torch.allclose(changed, start, atol=1e-3)
    torch.testing.assert_close(again, changed)  # the context restores the trained aligner


def test_disable_dropout_makes_training_forward_deterministic(captioner, clip):
    captioner.model.train()
    assert any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in captioner.model.modules())
    disable_dropout(captioner.model)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in captioner.model.modules())
    with torch.no_grad():
        a = captioner.sequence_logps(_examples(clip))
        b = captioner.sequence_logps(_examples(clip))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_forward_in_groups_equals_one_pass(captioner, clip):
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=False, no_dropout=True)
    examples = _examples(clip) * 2
    with torch.no_grad():
        whole, n_whole = policy(examples)
        split, n_split = policy(examples, split=[1, 3, 0])
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-4)
    assert n_whole.tolist() == n_split.tolist()
    with pytest.raises(ModelError, match="split"):
        policy(examples, split=[1, 1])
