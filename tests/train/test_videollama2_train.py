"""VideoLLaMA 2 trains through the common recipes: gDPO, and SFT with the audio-visual joint
training's 2:1:1 modality mix (paper §3.3; LoRA + connector + audio projector, encoders frozen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avcap.errors import DataError
from avcap.train.objectives import LN2
from tests.train.conftest import write_jsonl
from tests.train.test_recipes import FAST, _changed, _config, _groups, _report, run_cli

AV = "tiny:videollama2-av"


def test_gdpo_round_starts_at_ln2(data_dir, tmp_path):
    out = tmp_path / "gdpo"
    run_cli("gdpo", "--config", _config(tmp_path, data=str(data_dir / "pref.jsonl"), output_dir=str(out)),
            "--model.name", AV, *FAST)
    first = _report(out)["train"]["first_step"]
    assert first["dpo_loss"] == pytest.approx(LN2, abs=1e-5) and first["gt_nll"] > 0
    assert _changed(_groups(AV)["llm"], _groups(out / "model")["llm"])


def test_mixed_groups_cover_av_rows_once_and_cycle_the_others():
    from avcap.train.mix import mixed_groups

    kinds = ["audio-visual"] * 5 + ["visual", "audio", "audio"]
    groups = mixed_groups(kinds, [2, 1, 1], seed=0)
    assert len(groups) == 2 and all(len(g) == 4 for g in groups)  # 5 AV rows: the odd last one is dropped
    assert [[kinds[i] for i in g] for g in groups] == [["audio-visual"] * 2 + ["visual", "audio"]] * 2
    av = [i for g in groups for i in g[:2]]
    assert len(set(av)) == 4 and {groups[0][3], groups[1][3]} == {6, 7}  # audio rows cycled in turn
    assert groups[0][2] == groups[1][2] == 5
    with pytest.raises(DataError, match="needs audio rows"):
        mixed_groups(["audio-visual", "visual"], [1, 1, 1])


def _mixed_rows(data_dir: Path) -> Path:
    rows = []
    for i in range(2):
        conv = [{"from": "human", "value": "<video>\nDescribe."}, {"from": "gpt", "value": f"answer {i}"}]
        rows.append({"id": f"av{i}", "video": f"v{i}.mp4", "conversations": conv})
        rows.append({"id": f"v{i}", "video": f"v{i}.mp4", "modality": "visual", "conversations": conv})
        rows.append({"id": f"a{i}", "video": f"v{i}.mp4", "modality": "audio", "conversations": conv})
    return write_jsonl(data_dir / "mixed.jsonl", rows)


def test_mixed_dataset_feeds_each_modality_its_own_view(data_dir):
    from avcap.models import load_captioner
    from avcap.train.data import load_rows, supervised_items
    from avcap.train.mix import MixedDataset, collate_mixed

    cap = load_captioner(AV)
    items = supervised_items(load_rows(_mixed_rows(data_dir), what="training"), "Describe.")
    dataset = MixedDataset(items, [2, 1, 1], cap.frame_policy)
    batch = collate_mixed([dataset[0]])
    assert len(dataset) == 1 and len(batch) == 4
    av, _, visual, audio = batch.examples
    assert av.clip.num_frames == 8 and av.clip.audio.size > 0
    assert visual.clip.num_frames == 8 and visual.clip.audio.size == 0
    assert audio.clip.audio_only and np.array_equal(audio.clip.audio[:1000], av.clip.audio[:1000])
    inputs = cap.processor([e.clip for e in batch.examples], [e.prompt for e in batch.examples])
    assert inputs.has_audio == [True, True, False, True] and inputs.frames_per_clip == [8, 8, 8, 0]


def test_joint_training_trains_connector_projector_and_lora_with_encoders_frozen(data_dir, tmp_path):
    out = tmp_path / "joint"
    config = _config(tmp_path, data=str(_mixed_rows(data_dir)), output_dir=str(out), modality_mix=[2, 1, 1],
                     train_groups=["visual_aligner"])
    run_cli("sft", "--config", config, "--model.name", AV, *FAST, "--optim.batch_size", "1")  # one group of 4
    report = _report(out)
    assert report["train"]["global_step"] == 1 and report["rows"] == 6
    start, trained = _groups(AV), _groups(out / "model")
    for group in ("llm", "visual_aligner", "audio_aligner"):
        assert _changed(start[group], trained[group]), group
    for frozen in ("visual_encoder", "audio_encoder"):
        assert not _changed(start[frozen], trained[frozen]), frozen


def test_shipped_joint_training_config_loads():
    from avcap.config import load_config
    from avcap.train.configs import SFTConfig

    path = Path(__file__).resolve().parents[2] / "configs" / "videollama2" / "sft_av_joint.yaml"
    cfg = load_config(SFTConfig, path)
    assert cfg.modality_mix == [2, 1, 1] and cfg.train_groups == ["visual_aligner"] and cfg.train_aligner
    with pytest.raises(ValueError, match="modality_mix"):
        SFTConfig(data="d.jsonl", output_dir="o", modality_mix=[0, 1, 1])
