"""Training recipes, one function per ``avcap train`` verb; :func:`run_recipe` dispatches by name."""

from __future__ import annotations

from pathlib import Path


def run_recipe(name: str, config_path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Load the recipe's config (YAML + ``--key value`` overrides) and run it; returns its report."""
    from avcap.config import load_config
    from avcap.errors import ConfigError
    from avcap.train.configs import RECIPE_CONFIGS

    if name not in RECIPE_CONFIGS:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPE_CONFIGS)}")
    overrides = list(overrides or [])
    if name in ("dpo", "gdpo") and not any(o.lstrip("-").replace("-", "_").startswith("objective") for o in overrides):
        overrides += ["--objective", name]  # `avcap train dpo` / `gdpo` pick the loss unless the user did
    cfg = load_config(RECIPE_CONFIGS[name], config_path, overrides)
    return RECIPES[name](cfg)


def _align(cfg):
    from avcap.train.recipes.align import run_align

    return run_align(cfg)


def _sft(cfg):
    from avcap.train.recipes.sft import run_sft

    return run_sft(cfg)


def _dpo(cfg):
    from avcap.train.recipes.dpo import run_dpo

    return run_dpo(cfg)


def _mrdpo(cfg):
    from avcap.train.recipes.mrdpo import run_mrdpo

    return run_mrdpo(cfg)


RECIPES = {"align": _align, "sft": _sft, "dpo": _dpo, "gdpo": _dpo, "mrdpo": _mrdpo}


def _negdpo(cfg):
    from avcap.train.recipes.negdpo import run_negdpo

    return run_negdpo(cfg)


RECIPES["negdpo"] = _negdpo


def _grpo(cfg):
    from avcap.train.recipes.grpo import run_grpo

    return run_grpo(cfg)


RECIPES["grpo"] = _grpo
