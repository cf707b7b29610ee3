"""configs/nano: every file loads into its recipe's config dataclass, and the stages chain up."""

from __future__ import annotations

from pathlib import Path

import pytest

from avcap.config import load_config
from avcap.train.configs import AlignConfig, GRPOConfig, MrDPOConfig, NegDPOConfig, SFTConfig

NANO = Path(__file__).resolve().parents[1] / "configs" / "nano"
RECIPES = {"align": AlignConfig, "sft": SFTConfig, "mrdpo": MrDPOConfig, "negdpo": NegDPOConfig, "grpo": GRPOConfig}


def test_the_stages_are_shipped():
    assert sorted(p.stem for p in NANO.glob("*.yaml")) == sorted(RECIPES)


@pytest.mark.parametrize("stage", sorted(RECIPES))
def test_config_loads_for_cpu(stage):
    cfg = load_config(RECIPES[stage], NANO / f"{stage}.yaml")
    assert cfg.model.device == "cpu" and cfg.optim.precision == "fp32"
    assert cfg.output_dir.startswith("runs/nano/")


def test_stages_chain_and_mrdpo_is_judged_symbolically_on_held_out_rows():
    align, sft, mrdpo = (load_config(RECIPES[s], NANO / f"{s}.yaml") for s in ("align", "sft", "mrdpo"))
    assert align.model.name == "runs/nano/init"
    assert sft.model.name == f"{align.output_dir}/model"
    assert mrdpo.model.name == f"{sft.output_dir}/model"
    assert mrdpo.rounds >= 2
    from avcap.train.scoring import make_scorer

    assert mrdpo.scorer.kind == "symbolic"
    assert callable(make_scorer(mrdpo.scorer, "unused"))
    # Held-out rows come from a different synthetic set than the training and preference rows.
    assert len({Path(mrdpo.eval_data).parent, Path(mrdpo.data).parent, Path(sft.data).parent}) == 3


def test_negdpo_starts_where_mrdpo_does_and_evaluates_alike():
    """Tarsier2's DPO compares with MrDPO: the same SFT model, preference videos, held-out set and LoRA."""
    mrdpo, negdpo = (load_config(RECIPES[s], NANO / f"{s}.yaml") for s in ("mrdpo", "negdpo"))
    assert negdpo.model.name == mrdpo.model.name
    assert Path(negdpo.data).parent.name == "negdpo" and negdpo.eval_data == mrdpo.eval_data
    assert negdpo.eval_max_new_tokens == mrdpo.eval_max_new_tokens
    assert negdpo.lora == mrdpo.lora and negdpo.optim.learning_rate == mrdpo.round_lrs[0]
    assert negdpo.scorer.kind == "symbolic" and negdpo.delta == 0.3 and negdpo.beta == 0.1


def test_grpo_starts_from_sft_with_the_papers_sampling_and_the_symbolic_judge():
    sft = load_config(SFTConfig, NANO / "sft.yaml")
    grpo = load_config(GRPOConfig, NANO / "grpo.yaml")
    assert grpo.model.name == f"{sft.output_dir}/model"
    assert (grpo.num_generations, grpo.temperature, grpo.beta) == (8, 1.0, 0.04)
    assert grpo.rewards.backend == "symbolic" and grpo.scorer.kind == "symbolic"
    assert grpo.rewards.checklist and grpo.rewards.dialogue and grpo.rewards.length
