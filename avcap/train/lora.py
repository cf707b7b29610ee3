"""LoRA on the captioner's LLM with peft: attach a fresh adapter, merge it, find its targets.

video-SALMONN 2 (§3.2, §3.3.2) adapts only the LLM: encoders and the LLM's own weights stay
frozen, the audio aligner trains fully. In MrDPO each round merges the trained adapter,
``W_t = W_{t-1} + α·A_{t-1}B_{t-1}`` (eq. 8), and starts a fresh one (the "LoRA proxy").
peft's ``lora_alpha / r`` is that α (the official script: r = 128, lora_alpha = 256 → α = 2).

The adapter is injected in place: ``get_peft_model`` replaces the target ``nn.Linear`` layers
inside ``captioner.model`` by LoRA layers, so the captioner's own forward code runs through
them, and ``PeftModel.disable_adapter()`` switches them off for the DPO reference.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from avcap.errors import ModelError
from avcap.train.configs import LoraArgs

ADAPTER_NAME = "default"


def lora_target_names(model: nn.Module, llm_parameters: Iterable[nn.Parameter], targets: list[str]) -> list[str]:
    """Full names of the ``nn.Linear`` modules to adapt: last name part in ``targets``, weight in the LLM.

    Matching by parameter identity keeps same-named layers of the encoders out (Whisper and
    the vision tower also have ``q_proj``/``k_proj``/...); only the LLM is adapted (§3.2).
    """
    llm_ids = {id(p) for p in llm_parameters}
    wanted = set(targets)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in wanted and id(module.weight) in llm_ids
    ]
    if not names:
        raise ModelError(f"no LLM linear layer is named like {sorted(wanted)}; set lora.targets")
    return names


def attach_lora(model: nn.Module, args: LoraArgs, target_names: list[str], seed: int = 0):
    """Wrap ``model`` in a ``PeftModel`` with a fresh adapter (B = 0, so outputs are unchanged).

    Every parameter outside the adapter is frozen by peft; callers unfreeze what else trains.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=args.r,
        lora_alpha=args.alpha * args.r,  # peft scales BA by lora_alpha / r: that ratio is the paper's α
        lora_dropout=args.dropout,
        target_modules=list(target_names),  # full names: peft matches them exactly
        bias="none",
    )
    # LoRA's A matrix is drawn at random: seed it so every rank (and a resumed run) starts alike.
    devices = [torch.device(p.device) for p in model.parameters() if p.device.type == "cuda"][:1]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return get_peft_model(model, config, adapter_name=ADAPTER_NAME)


def merge_lora(peft_model) -> nn.Module:
    """Merge the adapter into the weights (eq. 8) and return the plain model, adapter layers removed.

    peft replaces each LoRA layer by its base ``nn.Linear`` with ``W + (lora_alpha/r)·BA`` in
    place, so the returned module is the same object the captioner already holds.
    """
    return peft_model.merge_and_unload()


def lora_parameter_names(peft_model) -> list[str]:
    return [name for name, _ in peft_model.named_parameters() if ".lora_" in name]
