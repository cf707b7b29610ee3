"""`avcap train grpo` with tiny models: the reference, the direction of a step, resume, both families."""

from __future__ import annotations

import json
import sys
import types

import pytest
import torch

from avcap.models.base import TrainExample
from avcap.train.configs import LoraArgs
from avcap.train.grpo import GRPOBatch, GRPOObjective, PromptItem, fill_failed, strip_control_tokens
from avcap.train.grpo_rewards import Reward
from avcap.train.policy import PolicyModule, param_group

LORA = LoraArgs(r=4, alpha=2.0, dropout=0.0)


def _row(data_dir, i=0):
    from avcap.train.data import load_rows

    return load_rows(data_dir / "train.jsonl", what="training")[i]


def test_fill_failed_gives_failed_rewards_the_group_mean_and_drops_groups_of_one():
    values, keep = fill_failed([1.0, None, 3.0, None, None, 5.0], group_size=3)
    assert values.tolist() == [1.0, 2.0, 3.0, 5.0, 5.0, 5.0]
    assert keep.tolist() == [True] * 3 + [False] * 3


def test_strip_control_tokens(captioner):
    assert strip_control_tokens("a<|audio_pad|>b <|im_end|>", captioner.tokenizer) == "ab"


def test_reference_is_the_adapter_disabled_start_model(captioner, clip):
    """Reference = adapter off + the aligners' start values, the model as loaded; the policy differs."""
    from avcap.models import load_captioner

    examples = [TrainExample(clip, "Describe the video.", "a red square moves right")]
    with torch.no_grad():
        start, start_mask = load_captioner("tiny:salmonn2", device="cpu").sequence_logps(examples, per_token=True)
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=True, no_dropout=True,
                                full_groups=("visual_aligner",), snapshot_full_groups=True)
    policy.eval()
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.add_(0.05)
        for p in param_group(captioner, "audio_aligner") + param_group(captioner, "visual_aligner"):
            p.add_(0.1)
        moved, _ = policy(examples, per_token=True)
        with policy.reference():
            ref, ref_mask = policy(examples, per_token=True)
    assert torch.equal(ref_mask, start_mask)
    assert torch.allclose(ref, start, atol=1e-5)
    assert not torch.allclose(moved, start, atol=1e-3)


def _objective(rewards, g=4):
    return GRPOObjective(rewards, num_generations=g, temperature=1.0, max_new_tokens=8, beta=0.04, seed=0)


def test_one_step_raises_the_preferred_caption_and_lowers_the_others(captioner, clip, data_dir):
    """The first caption of each group gets reward 1, the rest 0: one SGD step must raise its log-prob
    and lower the others' (a flipped advantage sign fails here)."""
    row = _row(data_dir)
    policy = PolicyModule.build(captioner, lora=LORA, train_aligner=False, no_dropout=True)
    objective = _objective(lambda rows, caps, n: [Reward(1.0 if i % 4 == 0 else 0.0) for i in range(len(caps))])
    batch = GRPOBatch([clip], [PromptItem(row, "Describe the video.")])
    loss, metrics = objective(policy, policy, batch)
    assert float(metrics["kl"]) == pytest.approx(0.0, abs=1e-9)  # policy == reference before the update
    captions = objective.rollout(captioner, batch, 0, 0)[0]["captions"]
    examples = [TrainExample(clip, "Describe the video.", c) for c in captions]
    with torch.no_grad():
        before, mask = policy(examples, per_token=True)
    loss.backward()
    with torch.no_grad():
        for p in policy.parameters():
            if p.grad is not None:
                p.sub_(0.05 * p.grad)
        after, _ = policy(examples, per_token=True)
    change = ((after - before) * mask).sum(-1) / mask.sum(-1)
    assert change[0] > 0 and (change[1:] < 0).all(), change
    _, moved = objective(policy, policy, batch)  # now the policy is not the reference: KL > 0
    assert 0 < float(moved["kl"]) < 1.0


def test_judge_rewards_symbolic_checklist_and_cache(tmp_path):
    """R_C + R_D + R_L from the symbolic judge; the second call asks the backend nothing."""
    from avcap.data import DatasetRow  # noqa: F401  (rows come from the synthetic world)
    from avcap.synth.dataset import make_row
    from avcap.synth.sampler import sample_script
    from avcap.train.configs import RewardArgs
    from avcap.train.data import load_rows
    from avcap.train.grpo_rewards import make_rewards

    raw = make_row(sample_script(3), "v0")
    raw["video"] = "v0.mp4"
    (tmp_path / "v0.mp4").write_bytes(b"")
    (tmp_path / "rows.json").write_text(json.dumps([raw]))
    row = load_rows(tmp_path / "rows.json", what="t")[0]
    first = raw["events"][0]
    rewards = make_rewards(RewardArgs(backend="symbolic"), tmp_path)
    out = rewards([row, row], [raw["conversations"][1]["value"], first], [10, 3000])
    assert out[0].checklist == 1.0 and out[0].dialogue == 1.0 and out[0].length == 1.0 and out[0].total == 3.0
    assert out[1].checklist == pytest.approx(1 / len(raw["events"]))
    assert out[1].length == pytest.approx(1 - (3000 - 2048) / 2048)
    calls = []
    import avcap.judge.backends.symbolic as sym

    original = sym.answer
    sym.answer = lambda messages: calls.append(1) or original(messages)
    try:
        again = make_rewards(RewardArgs(backend="symbolic"), tmp_path)([row, row], [raw["conversations"][1]["value"], first], [10, 3000])
    finally:
        sym.answer = original
    assert [r.total for r in again] == [r.total for r in out] and calls == []


@pytest.fixture
def word_reward(monkeypatch):
    """A scripted reward module: reward = how often the caption says 'square'; counts its calls."""
    module = types.ModuleType("grpo_word_reward")
    module.calls = []

    def prefer(rows, captions, n_tokens):
        module.calls.append(len(captions))
        return [float(c.lower().count("square")) for c in captions]

    module.prefer = prefer
    module.longer = lambda rows, captions, n_tokens: [float(len(c)) for c in captions]  # always a spread
    monkeypatch.setitem(sys.modules, "grpo_word_reward", module)
    return module


def _run(data, out, model="tiny:salmonn2", *extra):
    from avcap.train.recipes import run_recipe

    return run_recipe("grpo", None, ["--data", str(data), "--output_dir", str(out), "--model.name", model,
                                     "--model.device", "cpu", "--num_generations", "2", "--max_new_tokens", "6",
                                     "--rewards.kind", "grpo_word_reward:prefer", "--lora.r", "4",
                                     "--optim.batch_size", "1", "--optim.learning_rate", "1e-3",
                                     "--optim.warmup_ratio", "0", *extra])


def test_tiny_run_resumes_without_redoing_finished_rollouts(tiny_model, data_dir, tmp_path, word_reward):
    out = tmp_path / "run"
    report = _run(data_dir / "train2.jsonl", out, tiny_model, "--optim.max_steps", "2", "--optim.save_steps", "1",
                  "--optim.save_total_limit", "0")
    assert (out / "model" / "config.json").is_file() and len(report["reward_curve"]) == 2
    assert word_reward.calls == [2, 2]
    keys = [json.loads(line)["key"] for line in (out / "rollouts.jsonl").read_text().splitlines()]
    # Killed after step 2's rollouts but before its checkpoint: resume from checkpoint-1.
    import shutil

    for name in ("model", "trained", "checkpoints/checkpoint-2"):
        shutil.rmtree(out / name)
    for name in ("fit.json", "report.json"):
        (out / name).unlink()
    again = _run(data_dir / "train2.jsonl", out, tiny_model, "--optim.max_steps", "2", "--optim.save_steps", "1")
    assert word_reward.calls == [2, 2]  # step 2's rollout and reward were reused
    assert [json.loads(line)["key"] for line in (out / "rollouts.jsonl").read_text().splitlines()] == keys
    assert again["train"]["resumed_from"].endswith("checkpoint-1")
    assert _run(data_dir / "train2.jsonl", out, tiny_model, "--optim.max_steps", "2")["already_finished"]


def test_tiny_omni_thinker_trains_with_audio(data_dir, tmp_path, word_reward):
    """The Qwen2.5-Omni family: sampling and scoring with the clip's audio, LoRA + aligners merged."""
    from avcap.models import load_captioner

    out = tmp_path / "omni"
    _run(data_dir / "train2.jsonl", out, "tiny:omni", "--optim.max_steps", "1", "--optim.save_steps", "0",
         "--rewards.kind", "grpo_word_reward:longer")
    start = load_captioner("tiny:omni", device="cpu")
    trained = load_captioner(str(out / "model"), device="cpu")
    changed = {g: any(not torch.equal(a, b) for a, b in zip(ps, trained.parameter_groups()[g]))
               for g, ps in start.parameter_groups().items()}
    assert changed["llm"] and changed["audio_aligner"] and changed["visual_aligner"]
    assert not changed["audio_encoder"] and not changed["visual_encoder"]
    rec = json.loads((out / "rollouts.jsonl").read_text().splitlines()[0])
    assert len(rec["captions"]) == 2


@pytest.mark.slow
def test_nano_reward_rises_with_bounded_kl(tmp_path, word_reward):
    """builtin:nano, reward = count of 'square': mean reward of the last steps beats the first, KL < 2."""
    from avcap.synth.dataset import DatasetConfig, build_dataset

    build_dataset(DatasetConfig(out=tmp_path / "d", n=6, seed=5), progress=False)
    report = _run(tmp_path / "d" / "train.json", tmp_path / "run", "builtin:nano", "--num_generations", "8",
                  "--max_new_tokens", "48", "--optim.batch_size", "2", "--optim.max_steps", "10",
                  "--optim.learning_rate", "2e-3", "--optim.warmup_ratio", "0", "--optim.scheduler", "constant",
                  "--optim.save_steps", "0", "--lora.r", "16")
    curve = [c["reward"] for c in report["reward_curve"]]
    assert sum(curve[-3:]) / 3 > sum(curve[:3]) / 3 + 0.3, curve
    assert max(m["kl"] for m in report["step_metrics"]) < 2.0


def test_full_finetune_trains_the_llm_in_full_against_a_frozen_copy(tiny_model, data_dir, tmp_path, word_reward):
    """finetune: full -- no LoRA; the LLM's start values are the reference (a frozen copy) and the
    merged model's LLM differs from the start."""
    from avcap.models import load_captioner

    out = tmp_path / "full"
    report = _run(data_dir / "train2.jsonl", out, tiny_model, "--finetune", "full", "--optim.max_steps", "2",
                  "--optim.save_steps", "0", "--rewards.kind", "grpo_word_reward:longer")
    assert report["step_metrics"][0]["kl"] == pytest.approx(0.0, abs=1e-9)
    assert report["step_metrics"][1]["kl"] > 0  # the second step's policy has moved off the copy
    start = load_captioner(tiny_model, device="cpu").parameter_groups()["llm"]
    trained = load_captioner(str(out / "model"), device="cpu").parameter_groups()["llm"]
    assert any(not torch.equal(a, b) for a, b in zip(start, trained))


@pytest.mark.parametrize("name", ["tiny:salmonn2", "tiny:omni"])
def test_per_token_logps_sum_to_sequence_logps(name, data_dir):
    """Per-token log-probs (GRPO) agree with the summed ones every recipe uses, for both families;
    the Omni batch mixes a visual-only and an audio-visual clip (scored in two groups, re-padded)."""
    import dataclasses

    from avcap.models import load_captioner
    from avcap.train.data import load_row_clip

    cap = load_captioner(name, device="cpu")
    cap.model.eval()
    row = _row(data_dir)
    clip = load_row_clip(row, cap.frame_policy)
    clips = [clip, load_row_clip(dataclasses.replace(row, use_audio=False), cap.frame_policy)]  # 2nd: no sound
    examples = [TrainExample(clips[0], "Describe the video.", "a red square moves right"),
                TrainExample(clips[1], "Describe the video.", "noise")]
    with torch.no_grad():
        summed = cap.sequence_logps(examples)
        tokens, mask = cap.sequence_logps(examples, per_token=True)
    assert torch.allclose((tokens * mask).sum(-1), summed, atol=1e-4)
    assert mask.sum(-1).tolist()[0] > mask.sum(-1).tolist()[1]
