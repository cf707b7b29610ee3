"""PEFT LoRA adapters (a folder or hub repo with ``adapter_config.json``) on a base checkpoint.

The video-SALMONN 2+ hub repos ``tsinghua-ee/video-SALMONN-2_plus_{3B,7B,72B}`` are such
adapters: ``adapter_config.json`` (``base_model_name_or_path``, ``r``, ``lora_alpha``,
``target_modules`` q/k/v_proj, ``modules_to_save``) and ``adapter_model.safetensors`` with keys
``base_model.model.<module>.lora_{A,B}.weight`` (LoRA pairs) and ``base_model.model.<module>.<param>``
(the ``modules_to_save`` copies: merger, Q-Former, audio projection), all under the release's
own module names. The release loads them with ``PeftModel.from_pretrained(base, adapter)`` and
``merge_and_unload()`` before generating (``train_qwen.py``), removing ``audio.layers`` first so
Whisper's q/k/v_proj are not wrapped.

avcap's modules are named differently, so the keys are mapped to avcap's names first (the
captioner's ``adapter_module_name``); peft's ``LoraModel`` then injects exactly the adapted
modules (those with weights in the file -- which is what the release's Whisper trick amounts to),
the weights are loaded into them, and the ``modules_to_save`` copies replace the base modules'
weights. ``mode="merge"`` (the default, as the release runs it) folds each pair into its base
weight with peft's ``merge_and_unload``: one matmul per layer, and avcap's trainer can put its
own fresh LoRA on top (MrDPO's merge loop). ``mode="keep"`` leaves the LoRA layers in place (the
base weights untouched, W x + s·B A x computed apart): for comparing against the base, not for
saving or training.
"""

from __future__ import annotations

import json
from pathlib import Path

from avcap.errors import ModelError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_MODES = ("merge", "keep")
_PREFIX = "base_model.model."
_LORA_PARTS = ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")


def is_adapter_folder(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def read_adapter_config(folder: str | Path) -> dict:
    file = Path(folder) / ADAPTER_CONFIG
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"{file}: unreadable ({err})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{file}: expected a JSON object")
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise ModelError(f"{file}: peft_type {config.get('peft_type')!r}; avcap loads LoRA adapters only")
    return config


def adapter_base(folder: str | Path, base: str | None = None) -> str:
    """The base checkpoint to put the adapter on: ``base`` if given, else ``base_model_name_or_path``."""
    if base:
        return str(base)
    named = read_adapter_config(folder).get("base_model_name_or_path")
    if not named:
        raise ModelError(f"{folder}: the adapter names no base_model_name_or_path; give the base with --base-model")
    return str(named)


def read_adapter_weights(folder: str | Path) -> dict:
    import torch

    folder = Path(folder)
    if (folder / "adapter_model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(folder / "adapter_model.safetensors"))
    if (folder / "adapter_model.bin").is_file():
        try:
            return torch.load(str(folder / "adapter_model.bin"), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad adapter
            raise ModelError(f"{folder}/adapter_model.bin: cannot read weights ({type(err).__name__}: {err})") from None
    raise ModelError(f"{folder}: no adapter_model.safetensors or adapter_model.bin")


def split_adapter_keys(state: dict) -> tuple[dict[str, dict[str, object]], dict[str, object]]:
    """``({module: {part: tensor}}, {parameter: tensor})``: LoRA parts by adapted module, and the
    ``modules_to_save`` weights, both under the checkpoint's own names (prefix removed)."""
    lora: dict[str, dict[str, object]] = {}
    full: dict[str, object] = {}
    for key, value in state.items():
        name = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
        parts = name.split(".")
        at = next((i for i, p in enumerate(parts) if p in _LORA_PARTS), None)
        if at is None:
            full[name] = value
        else:
            lora.setdefault(".".join(parts[:at]), {})[".".join(parts[at:])] = value
    return lora, full


def _lora_config(config: dict, targets: dict[str, str]):
    """peft's LoraConfig of the file, aimed at ``targets`` (official name -> avcap name) exactly."""
    import dataclasses
    import re

    from peft import LoraConfig

    known = {f.name for f in dataclasses.fields(LoraConfig)}
    kwargs = {k: v for k, v in config.items() if k in known}
    r, alpha = int(config.get("r", 8)), config.get("lora_alpha", 8)
    ranks, alphas = {}, {}
    for official, ours in targets.items():  # per-module patterns keyed by the file's names
        for pattern, value in (config.get("rank_pattern") or {}).items():
            if re.match(rf"(.*\.)?({pattern})$", official):
                ranks[re.escape(ours)] = value
        for pattern, value in (config.get("alpha_pattern") or {}).items():
            if re.match(rf"(.*\.)?({pattern})$", official):
                alphas[re.escape(ours)] = value
    kwargs.update(target_modules=sorted(targets.values()), modules_to_save=None, rank_pattern=ranks,
                  alpha_pattern=alphas, r=r, lora_alpha=alpha, lora_dropout=0.0, inference_mode=True,
                  layers_to_transform=None, layers_pattern=None, exclude_modules=None, task_type=None)
    for key in ("base_model_name_or_path", "revision", "auto_mapping"):
        kwargs.pop(key, None)
    return LoraConfig(**kwargs)


def attach_adapter(captioner, folder: str | Path, mode: str = "merge") -> None:
    """Put the adapter in ``folder`` on ``captioner.model`` in place (see the module docstring)."""
    import torch
    from peft.tuners.lora import LoraModel

    if mode not in ADAPTER_MODES:
        raise ModelError(f"adapter mode {mode!r}: choose {' or '.join(ADAPTER_MODES)}")
    folder = Path(folder)
    config = read_adapter_config(folder)
    lora, full = split_adapter_keys(read_adapter_weights(folder))
    if not lora:
        raise ModelError(f"{folder}: the adapter holds no LoRA weights")
    rename = getattr(captioner, "adapter_module_name", None) or (lambda name: name)
    model = captioner.model
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    targets = {name: rename(name) for name in lora}
    missing = sorted(f"{n} (-> {t})" for n, t in targets.items() if t not in modules)
    full_targets = {name: rename(name) for name in full}
    missing += sorted(f"{n} (-> {t})" for n, t in full_targets.items() if t not in params)
    if missing:
        raise ModelError(f"{folder}: {len(missing)} adapter weights have no place in {captioner.name}: "
                         f"{', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    trainable = {name: p.requires_grad for name, p in params.items()}
    tuner = LoraModel(model, _lora_config(config, targets), "default")
    injected = dict(model.named_parameters())
    loaded = set()
    with torch.no_grad():
        for official, parts in lora.items():
            for part, value in parts.items():
                head, _, rest = part.partition(".")
                key = f"{targets[official]}.{head}.default" + (f".{rest}" if rest else "")
                if key not in injected:
                    raise ModelError(f"{folder}: adapter weight {official}.{part} fits no LoRA parameter ({key})")
                if tuple(injected[key].shape) != tuple(value.shape):
                    raise ModelError(f"{folder}: {official}.{part} has shape {tuple(value.shape)}, "
                                     f"the model expects {tuple(injected[key].shape)}")
                injected[key].copy_(value)
                loaded.add(key)
        unset = sorted(k for k in injected if ".lora_" in k and k not in loaded)
        if unset:
            raise ModelError(f"{folder}: {len(unset)} LoRA parameters got no weights (e.g. {unset[0]})")
        for official, value in full.items():  # modules_to_save: the adapter's copies replace the base's
            ours = full_targets[official]
            key = ours if ours in injected else _base_layer_key(ours)
            if tuple(injected[key].shape) != tuple(value.shape):
                raise ModelError(f"{folder}: {official} has shape {tuple(value.shape)}, the model expects "
                                 f"{tuple(injected[key].shape)}")
            injected[key].copy_(value)
    if mode == "merge":
        tuner.merge_and_unload(progressbar=False)
        for name, p in model.named_parameters():
            p.requires_grad_(trainable.get(name, True))
    model.eval()
    captioner.adapter = {"path": str(folder), "mode": mode, "modules": len(lora),
                         "modules_to_save": len(full)}


def _base_layer_key(param: str) -> str:
    """A modules_to_save weight inside a module that also got LoRA: peft moved it to ``base_layer``."""
    module, _, leaf = param.rpartition(".")
    return f"{module}.base_layer.{leaf}"
