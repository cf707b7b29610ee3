"""Recipe configs: every shipped file loads, the paper's defaults, validation, generated CLI help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from avcap.config import load_config
from avcap.errors import ConfigError
from avcap.metrics.pairs import TABLE6_THRESHOLDS
from avcap.train.configs import RECIPE_CONFIGS, LoraArgs, MrDPOConfig, SFTConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    if path.stem.startswith("accelerate_"):
        from accelerate.commands.config.config_args import load_config_from_file

        cfg = load_config_from_file(str(path))
        assert cfg.distributed_type.value in {"FSDP", "MULTI_GPU"} and cfg.mixed_precision == "bf16"
        if cfg.distributed_type.value == "FSDP":
            assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
        return
    cfg = load_config(RECIPE_CONFIGS[path.stem], path)
    for key in ("deepspeed", "fsdp_config"):
        value = getattr(cfg.optim, key, None)
        if value:
            assert (CONFIGS.parents[1] / value).is_file(), value


@pytest.mark.parametrize("name,stage", [("ds_zero2.json", 2), ("ds_zero3.json", 3)])
def test_deepspeed_configs(name, stage):
    cfg = json.loads((CONFIGS / name).read_text())
    assert cfg["zero_optimization"]["stage"] == stage
    # "auto" lets transformers fill batch sizes, accumulation, clipping and precision from OptimArgs.
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert cfg[key] == "auto"
    if stage == 3:  # the trainable tensors are gathered for avcap's checkpoints
        assert cfg["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True


def test_fsdp_config_is_valid_json():
    cfg = json.loads((CONFIGS / "fsdp.json").read_text())
    assert cfg["state_dict_type"] == "FULL_STATE_DICT" and "Qwen2_5_VLDecoderLayer" in cfg["transformer_layer_cls_to_wrap"]


def test_paper_defaults():
    cfg = MrDPOConfig(data="d.jsonl", output_dir="out")
    assert [cfg.round_lr(t) for t in range(1, 8)] == [2e-5, 2e-5, 1e-5, 2e-6, 2e-6, 2e-6, 2e-6]  # §4.2
    assert [cfg.round_thresholds(t) for t in range(1, 7)] == [TABLE6_THRESHOLDS[t] for t in range(1, 7)]  # Table 6
    assert (cfg.rounds, cfg.lam, cfg.beta, cfg.objective) == (6, 0.1, 0.1, "gdpo")
    assert (cfg.lora.r, cfg.lora.alpha) == (128, 2.0)  # §4.1


def test_lora_alpha_is_the_paper_scaling(captioner):
    """The paper's α multiplies BA (eq. 8): peft's lora_alpha / r must equal it."""
    from avcap.train.policy import PolicyModule

    PolicyModule.build(captioner, lora=LoraArgs(r=8, alpha=2.0), train_aligner=False)
    layer = captioner.model.llm.model.language_model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == 2.0


@pytest.mark.parametrize("override,match", [
    (["--lora.r", "0"], "lora.r"),
    (["--lora.bogus", "1"], "unknown key"),
    (["--optim.batch_size", "0"], "batch_size"),
    (["--optim.deepspeed", "ds.json", "--optim.fsdp", "full_shard"], "one of"),
    (["--train_groups", "llm"], "train_groups: llm not among"),
])
def test_bad_values_are_config_errors(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(SFTConfig, None, ["--data", "d.jsonl", "--output_dir", "o", *override])


def test_align_train_groups_are_checked():
    from avcap.train.configs import AlignConfig

    cfg = load_config(AlignConfig, None, ["--data", "d.jsonl", "--output_dir", "o", "--train_groups", "audio_encoder"])
    assert cfg.train_groups == ["audio_encoder"]
    with pytest.raises(ConfigError, match="train_groups: llm not among"):
        load_config(AlignConfig, None, ["--data", "d.jsonl", "--output_dir", "o", "--train_groups", "llm"])


@pytest.mark.parametrize("override,match", [
    (["--sampling.num_samples", "1"], "num_samples"),
    (["--rounds", "0"], "rounds"),
    (["--round_lrs", "0"], "round_lrs"),
])
def test_bad_mrdpo_values(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(MrDPOConfig, None, ["--data", "d.jsonl", "--output_dir", "o", *override])


def test_thresholds_from_yaml(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"data": "d", "output_dir": "o", "thresholds": [[0.1, 0.0], [0.3]]}))
    with pytest.raises(ConfigError, match="thresholds"):
        load_config(MrDPOConfig, path)


def _app():
    from avcap.cli.train import register

    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    return app


def test_cli_help_is_generated_from_the_config():
    result = CliRunner().invoke(_app(), ["train", "mrdpo", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for key in ("--lora.r", "--round_lrs", "--sampling.top_p", "--scorer.kind", "--optim.deepspeed", "Table 6"):
        assert key in result.output, key


def test_cli_reports_a_bad_config_in_one_line(tmp_path):
    result = CliRunner().invoke(_app(), ["train", "sft", "--data", "d.jsonl", "--output_dir", str(tmp_path),
                                         "--lora.rank", "4"])
    assert result.exit_code == 2
    assert "unknown key(s) lora.rank" in result.output and "Traceback" not in result.output
