"""Every recipe end to end through ``avcap train <recipe> --config FILE.yaml --key value``, on CPU,
with the tiny video-SALMONN 2+ and generated videos."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import typer
import yaml
from typer.testing import CliRunner

from avcap.cli.train import register
from avcap.train.objectives import LN2

FAST = ["--lora.r", "4", "--optim.max_steps", "1", "--optim.batch_size", "2", "--optim.warmup_ratio", "0",
        "--optim.learning_rate", "1e-3", "--optim.save_steps", "0"]


def run_cli(*args: str) -> dict:
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _config(tmp_path, **values) -> str:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _groups(path) -> dict[str, dict[str, torch.Tensor]]:
    from avcap.models import load_captioner

    cap = load_captioner(str(path), device="cpu")
    names = {id(p): n for n, p in cap.model.named_parameters()}
    return {g: {names[id(p)]: p.detach().clone() for p in ps} for g, ps in cap.model.parameter_groups().items()}


def _changed(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


def _report(out) -> dict:
    return json.loads((out / "report.json").read_text())


def test_align_trains_only_the_audio_aligner(tiny_model, data_dir, tmp_path):
    out = tmp_path / "align"
    run_cli("align", "--config", _config(tmp_path, data=str(data_dir / "train2.jsonl"), output_dir=str(out)), *FAST[2:])
    report = _report(out)
    assert report["recipe"] == "align" and report["train"]["global_step"] == 1
    start, trained = _groups(tiny_model), _groups(out / "model")
    assert _changed(start["audio_aligner"], trained["audio_aligner"])
    for frozen in ("llm", "visual_encoder", "visual_aligner", "audio_encoder"):
        assert not _changed(start[frozen], trained[frozen]), frozen
    assert (out / "trained" / "model.safetensors").is_file() and (out / "trained" / "config.yaml").is_file()


def test_align_train_groups_also_train_the_audio_encoder(tiny_model, data_dir, tmp_path):
    """The nano captioner's Whisper is random-init: its alignment trains it with the aligner."""
    out = tmp_path / "align_enc"
    config = _config(tmp_path, data=str(data_dir / "train2.jsonl"), output_dir=str(out), train_groups=["audio_encoder"])
    run_cli("align", "--config", config, *FAST[2:])
    start, trained = _groups(tiny_model), _groups(out / "model")
    assert _changed(start["audio_aligner"], trained["audio_aligner"])
    assert _changed(start["audio_encoder"], trained["audio_encoder"])
    for frozen in ("llm", "visual_encoder", "visual_aligner"):
        assert not _changed(start[frozen], trained[frozen]), frozen


def test_sft_merges_lora_and_aligner_into_a_loadable_model(tiny_model, data_dir, tmp_path):
    out = tmp_path / "sft"
    run_cli("sft", "--config", _config(tmp_path, data=str(data_dir / "train2.jsonl"), output_dir=str(out)), *FAST)
    report = _report(out)
    assert report["train"]["finite"] and report["train"]["first_step"]["nll"] > 0
    start, trained = _groups(tiny_model), _groups(out / "model")
    assert _changed(start["llm"], trained["llm"]) and _changed(start["audio_aligner"], trained["audio_aligner"])
    for frozen in ("visual_encoder", "visual_aligner", "audio_encoder"):
        assert not _changed(start[frozen], trained[frozen]), frozen
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["lora"]["r"] == 4 and saved["optim"]["max_steps"] == 1  # the resolved config beside the run


def test_sft_train_groups_train_the_named_groups_in_full_and_merge_them(tiny_model, data_dir, tmp_path):
    """A model built from scratch (the nano captioner) trains its vision path and audio encoder in SFT."""
    out = tmp_path / "sft_full"
    config = _config(tmp_path, data=str(data_dir / "train2.jsonl"), output_dir=str(out),
                     train_groups=["visual_encoder", "visual_aligner", "audio_encoder"])
    run_cli("sft", "--config", config, *FAST)
    start, trained = _groups(tiny_model), _groups(out / "model")
    for group in ("llm", "audio_aligner", "visual_aligner", "audio_encoder"):
        assert _changed(start[group], trained[group]), group
    # The 2+ vision tower has parameters the loss never reaches (its unused head), so "changed" is
    # asked of the group as a whole; the trainable count pins that every group was opened.
    assert _changed(start["visual_encoder"], trained["visual_encoder"])
    n_full = sum(t.numel() for g in ("visual_encoder", "visual_aligner", "audio_encoder", "audio_aligner")
                 for t in start[g].values())
    assert _report(out)["train"]["trainable_parameters"] > n_full


@pytest.mark.parametrize("recipe,data", [("dpo", "pref.jsonl"), ("gdpo", "pref_official.jsonl")])
def test_dpo_round_starts_at_ln2(recipe, data, tiny_model, data_dir, tmp_path):
    # gdpo reads the official releases' own DPO files (conversation roles), dpo avcap's fields.
    out = tmp_path / recipe
    run_cli(recipe, "--config", _config(tmp_path, data=str(data_dir / data), output_dir=str(out)), *FAST)
    report = _report(out)
    assert report["recipe"] == recipe
    first = report["train"]["first_step"]
    assert first["dpo_loss"] == pytest.approx(LN2, abs=1e-5)
    loss = report["train"]["log_history"][0]["loss"]
    assert loss == pytest.approx(LN2 + (0.1 * first["gt_nll"] if recipe == "gdpo" else 0.0), rel=1e-5)
    assert ("gt_nll" in first) == (recipe == "gdpo")
    assert _changed(_groups(tiny_model)["llm"], _groups(out / "model")["llm"])


SCORER = '''
from avcap.metrics.events import EventCounts
CALLS = []

def score(rows, captions):
    """Scripted judge: within each call, even positions (sample 0) miss 0 of 2 events, odd ones miss 2."""
    CALLS.append(len(captions))
    return [EventCounts(2, 0 if i % 2 == 0 else 2, 0, 0) for i in range(len(captions))]
'''


@pytest.fixture
def scorer_module(tmp_path, monkeypatch):
    import importlib
    import sys

    (tmp_path / "scripted_scorer.py").write_text(SCORER)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scripted_scorer", None)
    return importlib.import_module("scripted_scorer")


def test_mrdpo_two_rounds_with_reports_and_resume(tiny_model, data_dir, tmp_path, scorer_module):
    out = tmp_path / "mrdpo"
    # Table 6's Δe per round; Δr relaxed because 4-token captions never repeat (Δr = 0 < round 1's 1 %).
    config = _config(tmp_path, data=str(data_dir / "train2.jsonl"), output_dir=str(out), rounds=2,
                     thresholds=[[0.05, -1.0], [0.20, -1.0]], last_round_data=str(data_dir / "train2.jsonl"),
                     sampling={"num_samples": 2, "max_new_tokens": 4, "batch_videos": 2},
                     scorer={"kind": "scripted_scorer:score"})
    fast = [*FAST, "--optim.save_steps", "1", "--optim.batch_size", "4"]  # one step sees every row
    run_cli("mrdpo", "--config", config, *fast)
    summary = _report(out)
    assert summary["rounds"] == 2 and summary["final_model"] == str(out / "round_2" / "model")
    r1, r2 = (json.loads((out / f"round_{t}" / "report.json").read_text()) for t in (1, 2))
    assert r1["start_model"] == tiny_model and r2["start_model"] == str(out / "round_1" / "model")
    assert r1["learning_rate"] == 2e-5 and r2["learning_rate"] == 2e-5  # §4.2 per-round LRs
    assert r1["pairs"]["thresholds"] == {"delta_e": 0.05, "delta_r": -1.0, "max_miss_rise": None}  # per-round thresholds
    assert r2["pairs"]["thresholds"] == {"delta_e": 0.20, "delta_r": -1.0, "max_miss_rise": None}
    for report in (r1, r2):
        assert report["pairs"]["pairs"] == 2 and report["pairs"]["mean_delta_e"] == pytest.approx(1.0)
        assert report["train"]["first_step"]["dpo_loss"] == pytest.approx(LN2, abs=1e-5)  # fresh LoRA each round
    assert r1["extra_rows"] == 0 and r2["extra_rows"] == 2  # SFT rows join the last round only
    assert "extra_nll" in r2["train"]["first_step"]
    assert _changed(_groups(out / "round_1" / "model")["llm"], _groups(out / "round_2" / "model")["llm"])
    for name in ("samples-0.jsonl", "scores.jsonl", "pairs.jsonl", "pair_stats.json"):
        assert (out / "round_2" / name).is_file()

    # Killed during round 2's training: its samples, scores and a checkpoint survive.
    samples = (out / "round_2" / "samples-0.jsonl").read_text()
    (out / "round_2" / "report.json").unlink()
    shutil.rmtree(out / "round_2" / "model")
    calls = len(scorer_module.CALLS)
    run_cli("mrdpo", "--config", config, *fast)
    assert len(scorer_module.CALLS) == calls  # nothing judged again
    assert (out / "round_2" / "samples-0.jsonl").read_text() == samples  # nothing sampled again
    resumed = json.loads((out / "round_2" / "report.json").read_text())
    assert resumed["pairs"] == r2["pairs"] and (out / "round_2" / "model").is_dir()
    assert resumed["train"]["resumed_from"].endswith("checkpoint-1")  # training resumed, not redone
    assert resumed["train"]["global_step"] == 1


def _pair_logps(model, data_dir) -> tuple[float, float]:
    """Summed log-probs of the chosen and of the rejected answers of pref.jsonl, on the clean clips."""
    from avcap.models import load_captioner
    from avcap.models.base import TrainExample
    from avcap.train.data import ClipDataset, load_rows, preference_items

    items = preference_items(load_rows(data_dir / "pref.jsonl", what="preference"), "Describe.", need_reference=False)
    cap = load_captioner(str(model), device="cpu")
    cap.model.eval()
    clips = [clip for clip, _ in ClipDataset(items, cap.frame_policy)]
    with torch.no_grad():
        chosen = cap.sequence_logps([TrainExample(c, it.prompt, it.chosen) for c, it in zip(clips, items)])
        rejected = cap.sequence_logps([TrainExample(c, it.prompt, it.rejected) for c, it in zip(clips, items)])
    return float(chosen.mean()), float(rejected.mean())


def test_dpo_moves_probability_from_the_rejected_to_the_chosen_answer(tiny_model, data_dir, tmp_path):
    """A few DPO steps widen log p(chosen) - log p(rejected): swapping the two anywhere in the data path
    (collator, items, objective) makes the margin shrink instead."""
    out = tmp_path / "dpo"
    run_cli("dpo", "--config", _config(tmp_path, data=str(data_dir / "pref.jsonl"), output_dir=str(out)),
            "--lora.r", "4", "--optim.max_steps", "4", "--optim.batch_size", "2", "--optim.warmup_ratio", "0",
            "--optim.learning_rate", "2e-3", "--optim.save_steps", "0", "--train_aligner", "false")
    chosen_0, rejected_0 = _pair_logps(tiny_model, data_dir)
    chosen_1, rejected_1 = _pair_logps(out / "model", data_dir)
    assert (chosen_1 - rejected_1) > (chosen_0 - rejected_0) + 1.0, (chosen_0, rejected_0, chosen_1, rejected_1)
    assert chosen_1 - chosen_0 > rejected_1 - rejected_0
    margins = [h["rewards/margin"] for h in _report(out)["train"]["log_history"] if "rewards/margin" in h]
    assert margins and margins[-1] > 0
