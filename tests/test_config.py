from dataclasses import dataclass, field
from pathlib import Path

import pytest

from avcap.config import config_help, load_config, parse_overrides, save_config
from avcap.errors import ConfigError


@dataclass
class LoraConfig:
    rank: int = field(default=8, metadata={"help": "LoRA rank r"})
    targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"], metadata={"help": "modules"})


@dataclass
class RecipeConfig:
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate"})
    steps: int = 10
    bf16: bool = False
    out: Path = Path("runs/x")
    note: str | None = None
    lora: LoraConfig = field(default_factory=LoraConfig)
    round_lrs: list[float] = field(default_factory=lambda: [2e-5, 1e-5])

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError("steps must be >= 1")


def test_yaml_then_overrides_with_types(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1.0e-4\nsteps: 5\nlora:\n  rank: 16\n")
    cfg = load_config(RecipeConfig, path, ["--steps", "7", "--bf16", "--lora.targets", "a,b", "--note=hi",
                                           "--round-lrs", "1e-5,2e-6"])
    assert cfg.lr == 1e-4 and cfg.steps == 7 and cfg.bf16 is True
    assert cfg.lora == LoraConfig(rank=16, targets=["a", "b"])
    assert cfg.note == "hi" and cfg.out == Path("runs/x") and cfg.round_lrs == [1e-5, 2e-6]


def test_round_trip(tmp_path: Path):
    cfg = load_config(RecipeConfig, None, ["--lora.rank", "4"])
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(RecipeConfig, tmp_path / "resolved.yaml") == cfg


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["--nope", "1"], "unknown key.*nope"),
        (["--lora.nope", "1"], "unknown key.*lora.nope"),
        (["--steps", "abc"], "steps: cannot read 'abc' as int"),
        (["--steps", "0"], "steps must be >= 1"),
        (["--bf16", "maybe"], "bf16: cannot read"),
        (["stray"], "unexpected argument"),
    ],
)
def test_errors_are_clear(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(RecipeConfig, None, overrides)


def test_bad_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(RecipeConfig, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(RecipeConfig, bad)


def test_parse_overrides_nesting():
    assert parse_overrides(["--a.b", "1", "--c=2", "--flag"]) == {"a": {"b": "1"}, "c": "2", "flag": "true"}


def test_help_lists_every_field_with_help_text():
    text = config_help(RecipeConfig)
    assert "--lr (float, default 2e-05): peak learning rate" in text
    assert "--lora.rank (int, default 8): LoRA rank r" in text
