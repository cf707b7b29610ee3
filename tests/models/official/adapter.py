"""A LoRA adapter written by peft on the official 2+ tree, as ``train_qwen.py`` trains and saves one."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from . import plus

R, ALPHA = 4, 8
# As train_qwen.py configures the 2+ LoRA: q/k/v_proj, merger + Q-Former + projection saved whole.
MODULES_TO_SAVE = ["visual.merger", "audio.qformer", "audio.q_tokens", "audio.audio_proj"]


def release_tree(base: Path) -> plus.VideoSalmonn2Plus:
    from safetensors.torch import load_file

    tree = plus.VideoSalmonn2Plus(json.loads((base / "config.json").read_text())).eval()
    state: dict = {}
    for file in sorted(base.glob("*.safetensors")):
        state.update(load_file(str(file)))
    tree.load_release_weights(state)
    return tree


def without_whisper_layers(tree, make):
    """The release's trick around peft: Whisper's layers leave the tree while peft wraps it, so only
    the LLM's q/k/v_proj get LoRA, then come back."""
    layers = tree.audio.layers
    del tree.audio.layers
    try:
        wrapped = make(tree)
    finally:
        tree.audio.layers = layers
    return wrapped


def write_adapter(base: Path, out: Path, base_name: str | None = None, seed: int = 0) -> Path:
    """``adapter_config.json`` + ``adapter_model.safetensors`` of a "trained" adapter on ``base``."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=R, lora_alpha=ALPHA, target_modules=["q_proj", "k_proj", "v_proj"], lora_dropout=0.05,
                        modules_to_save=MODULES_TO_SAVE)
    peft_model = without_whisper_layers(release_tree(base), lambda tree: get_peft_model(tree, config))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # a trained adapter: non-zero B, and copies of the saved modules that moved
        for name, p in peft_model.named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=generator))
    peft_model.peft_config["default"].base_model_name_or_path = base_name or str(base)
    peft_model.save_pretrained(str(out))
    settings = json.loads((out / "adapter_config.json").read_text())
    settings["task_type"] = "CAUSAL_LM"  # as the released adapter_config.json says
    (out / "adapter_config.json").write_text(json.dumps(settings))
    return out


def merged_release_model(base: Path, adapter: Path) -> plus.VideoSalmonn2Plus:
    """What train_qwen.py evaluates: PeftModel.from_pretrained on the base, then merge_and_unload."""
    from peft import PeftModel

    merged = without_whisper_layers(release_tree(base), lambda tree: PeftModel.from_pretrained(tree, str(adapter)))
    return merged.merge_and_unload().eval()
