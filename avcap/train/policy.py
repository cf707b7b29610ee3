"""The module ``Trainer`` trains: a captioner's network, its trainable parts chosen, and a reference.

``PolicyModule.forward(examples)`` scores answers with the captioner's own
``sequence_logps`` (so every family trains through the code it captions with). Going
through ``nn.Module.forward`` lets DDP / FSDP / DeepSpeed wrap it like any model.

The DPO reference (§3.3.2: the model of round t-1, i.e. this round's weights without the
fresh LoRA proxy) is the same module with the adapter disabled by peft
(``PeftModel.disable_adapter()``) — no second copy of the LLM. When the audio aligner trains
too, its round-start values are kept (a small copy) and swapped in for the reference pass,
so the reference really is the round-start model.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from avcap.errors import ModelError
from avcap.models.base import TrainExample
from avcap.train.configs import LoraArgs
from avcap.train.lora import attach_lora, lora_target_names, merge_lora


@dataclass
class SequenceScores:
    logps: torch.Tensor  # [B] summed log-prob of each answer (differentiable)
    n_tokens: torch.Tensor | None  # [B] answer tokens scored; None if the captioner does not report them

    def mean_nll(self) -> torch.Tensor:  # [B] mean token cross-entropy per answer
        if self.n_tokens is None:
            raise ModelError("this objective needs answer token counts: the captioner's sequence_logps "
                             "must accept return_counts=True")
        return -self.logps / self.n_tokens.to(self.logps.dtype).clamp(min=1)


def param_group(captioner, group: str) -> list[nn.Parameter]:
    """A named parameter group (``llm``, ``audio_aligner``, ...) of the captioner's model."""
    groups = getattr(captioner, "parameter_groups", None) or getattr(captioner.model, "parameter_groups", None)
    if groups is not None:
        found = groups()
        if group not in found:
            raise ModelError(f"{captioner.name}: the model has no '{group}' parameter group ({', '.join(found)})")
        return list(found[group])
    method = getattr(captioner, f"{group}_parameters", None)
    if method is None:
        raise ModelError(f"{captioner.name}: the model exposes no parameter groups; this recipe needs "
                         f"'{group}' to choose what trains")
    return list(method())


class PolicyModule(nn.Module):
    def __init__(self, captioner, net: nn.Module, aligner: list[nn.Parameter], has_adapter: bool):
        super().__init__()
        self.net = net  # the PeftModel around captioner.model, or captioner.model itself
        self._captioner = captioner  # not a Module: kept out of state_dict / parameters()
        self.has_adapter = has_adapter
        self._aligner = aligner
        # Round-start copy of the aligner, the reference's aligner (small next to the LLM).
        self._aligner_start = [p.detach().clone() for p in aligner]
        self._returns_counts = "return_counts" in inspect.signature(captioner.sequence_logps).parameters

    @classmethod
    def build(cls, captioner, *, lora: LoraArgs | None, train_aligner: bool, seed: int = 0,
              no_dropout: bool = False, full_groups: tuple[str, ...] = (),
              snapshot_full_groups: bool = False) -> PolicyModule:
        """Freeze everything, then open the fresh LoRA on the LLM (if ``lora``) and the aligner (if asked).

        ``no_dropout`` turns off dropout in the captioner's own layers (not in the LoRA), as
        DPO needs: policy and reference must be the same function before the first update.
        ``full_groups`` names further parameter groups (``visual_encoder``, ``visual_aligner``,
        ...) that train in full -- for a model trained from scratch, which has no pretrained
        visual LLM to keep frozen. They are supervised-only: a DPO reference does not restore them,
        unless ``snapshot_full_groups`` (GRPO's aligners): then their start values are kept beside
        the aligner's and swapped in by :meth:`reference` too.
        """
        model = captioner.model
        if no_dropout:
            disable_dropout(model)
        aligner = param_group(captioner, "audio_aligner") if train_aligner else []
        if train_aligner and not aligner:
            raise ModelError(f"{captioner.name}: the model has no audio aligner to train")
        for p in model.parameters():
            p.requires_grad_(False)
        if lora is not None:
            targets = lora_target_names(model, param_group(captioner, "llm"), lora.targets)
            net = attach_lora(model, lora, targets, seed=seed)  # LoRA params trainable, fp32
        else:
            net = model
        full = [p for group in full_groups for p in param_group(captioner, group)]
        for p in aligner + full:  # kept in the model's dtype: the captioner casts its inputs to it
            p.requires_grad_(True)
        if not any(p.requires_grad for p in net.parameters()):
            raise ModelError(f"{captioner.name}: nothing to train (no LoRA and no aligner)")
        snapshot = aligner + (full if snapshot_full_groups else [])
        module = cls(captioner, net, snapshot, has_adapter=lora is not None)
        module.snapshot_reference = snapshot_full_groups  # the start values alone may be the reference
        return module

    @property
    def captioner(self):
        return self._captioner

    def forward(
        self, examples: list[TrainExample], split: list[int] | None = None, per_token: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logps [B], n_tokens [B] or None)``; ``split`` scores the examples in groups of these sizes.

        A tuple (not a dataclass) so DDP finds the output tensors. Scoring in groups inside one
        ``forward`` keeps DDP's one-forward-per-backward rule while bounding peak memory.
        ``per_token`` (GRPO): ``(token_logps [B, T], mask [B, T])`` instead, in one call.
        """
        if per_token:
            if "per_token" not in inspect.signature(self._captioner.sequence_logps).parameters:
                raise ModelError(f"{self._captioner.name}: this captioner gives no per-token log-probs "
                                 "(sequence_logps(per_token=True)), which GRPO needs")
            return self._captioner.sequence_logps(examples, per_token=True)
        sizes = [len(examples)] if split is None else [s for s in split if s]
        if sum(sizes) != len(examples):
            raise ModelError(f"split {split} does not add up to {len(examples)} examples")
        logps, counts, start = [], [], 0
        for size in sizes:
            chunk = examples[start : start + size]
            start += size
            if self._returns_counts:
                lp, n = self._captioner.sequence_logps(chunk, return_counts=True)
                logps.append(lp)
                counts.append(torch.as_tensor(n, device=lp.device))
            else:
                logps.append(self._captioner.sequence_logps(chunk))
        n_tokens = torch.cat(counts) if self._returns_counts else None
        return torch.cat(logps), n_tokens

    @contextmanager
    def reference(self):
        """Within this block the module computes the reference: adapter off, round-start aligner.

        Without an adapter (GRPO's ``finetune: full``) the reference is the snapshot alone: every
        trained tensor's start value swapped in -- a frozen copy of the trained weights.
        """
        from contextlib import nullcontext

        if not self.has_adapter and not (getattr(self, "snapshot_reference", False) and self._aligner):
            raise ModelError("a DPO reference needs a LoRA adapter to disable")
        with self.net.disable_adapter() if self.has_adapter else nullcontext():
            current = [p.data for p in self._aligner]
            for p, start in zip(self._aligner, self._aligner_start):
                p.data = start
            try:
                yield
            finally:
                for p, data in zip(self._aligner, current):
                    p.data = data

    @property
    def aligner_snapshot(self) -> bool:
        """True when the reference needs the aligner's round-start copy (the aligner trains)."""
        return bool(self._aligner)

    def trainable_names(self) -> list[str]:
        return [name for name, p in self.named_parameters() if p.requires_grad]

    def activation_checkpointing_enable(self, activation_checkpointing_kwargs: dict | None = None,
                                        every_n_layers: int = 1, offload: bool = False) -> None:
        """Called by ``Trainer`` when ``activation_checkpointing`` is on: checkpoint the transformers parts."""
        from transformers import PreTrainedModel

        kwargs = activation_checkpointing_kwargs or {"use_reentrant": False}
        done: list[nn.Module] = []
        for module in self._captioner.model.modules():  # outermost transformers models first
            if isinstance(module, PreTrainedModel) and module.supports_gradient_checkpointing:
                if not any(_contains(outer, module) for outer in done):
                    if hasattr(module, "activation_checkpointing_enable"):
                        module.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs,
                                                               every_n_layers=every_n_layers, offload=offload)
                    else:  # transformers before 5.2x
                        module.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
                    done.append(module)
        if not done:
            raise ModelError(f"{self._captioner.name}: no part of the model supports activation checkpointing")

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None, **_) -> None:
        """What ``Trainer`` calls before transformers 5.2x."""
        self.activation_checkpointing_enable(gradient_checkpointing_kwargs)

    def merge(self) -> nn.Module:
        """Merge the adapter into the captioner's weights (eq. 8); the captioner keeps working, adapter-free."""
        if not self.has_adapter:
            return self._captioner.model
        merged = merge_lora(self.net)
        self._captioner.model = merged
        self.net = merged
        self.has_adapter = False
        return merged


def disable_dropout(model: nn.Module) -> None:
    """Dropout off everywhere in ``model``: ``nn.Dropout`` modules and the float ``*dropout*`` rates
    attention layers read in train mode (TRL's ``disable_dropout`` covers only the modules; the
    Q-Former's BERT attention keeps a float ``attention_dropout``)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for key, value in list(vars(module).items()):
            if "dropout" in key and isinstance(value, float) and value > 0:
                setattr(module, key, 0.0)


def _contains(outer: nn.Module, inner: nn.Module) -> bool:
    return any(m is inner for m in outer.modules())
