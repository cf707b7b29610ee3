"""transformers ``Trainer`` with a pluggable objective, typed batches and trainable-only checkpoints.

``Trainer`` brings gradient accumulation, bf16 autocast, gradient checkpointing, LR
schedules, checkpoint/resume, and DDP / FSDP / DeepSpeed through accelerate. What it lacks
for avcap is small: ``compute_loss`` delegates to an objective from
:mod:`avcap.train.objectives`; batches are dataclasses (not tensor dicts), so input preparation
is the captioner's job; checkpoints hold only the trainable weights (LoRA + aligner, a few
MB instead of the whole model) plus the run's resolved config.

Checkpoints survive a kill at any moment: each is written under ``<run>/.staging/`` and renamed
to ``<run>/checkpoint-N`` only once complete, so a ``checkpoint-N`` folder is always whole;
resuming takes the newest complete one and says which incomplete ones it skipped (folders left
by older versions, or by hand).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainingArguments

from avcap.config import save_config
from avcap.errors import ConfigError, ModelError
from avcap.train.configs import OptimArgs
from avcap.train.objectives import LN2

log = logging.getLogger("avcap.train")

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
STATE_FILE = "trainer_state.json"  # the last file Trainer writes into a checkpoint
STAGING_DIR = ".staging"  # checkpoints are written here, then renamed into place


def training_arguments(optim: OptimArgs, output_dir: str | Path, *, learning_rate: float | None = None,
                       use_cpu: bool = False, **overrides: Any) -> TrainingArguments:
    """Map :class:`OptimArgs` onto ``TrainingArguments`` (the only place that does)."""
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=optim.batch_size,
        gradient_accumulation_steps=optim.grad_accum,
        learning_rate=optim.learning_rate if learning_rate is None else learning_rate,
        num_train_epochs=optim.epochs,
        max_steps=optim.max_steps,
        warmup_steps=optim.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps (transformers >= 5)
        lr_scheduler_type=optim.scheduler,
        weight_decay=optim.weight_decay,
        max_grad_norm=optim.max_grad_norm,
        bf16=optim.precision == "bf16",
        activation_checkpointing=optim.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},  # LoRA on a frozen LLM needs no input grads
        seed=optim.seed,
        logging_steps=optim.logging_steps,
        save_strategy="steps" if optim.save_steps else "no",
        save_steps=optim.save_steps or 500,
        save_total_limit=optim.save_total_limit or None,
        dataloader_num_workers=optim.num_workers,
        remove_unused_columns=False,  # batches are typed objects, not column dicts
        ddp_find_unused_parameters=False,  # every trainable weight (LoRA, aligner) is used each step
        ddp_timeout=optim.ddp_timeout_s,
        deepspeed=optim.deepspeed or None,
        fsdp=optim.fsdp or None,
        fsdp_config=optim.fsdp_config or None,
        report_to=optim.report_to,
        use_cpu=use_cpu,
        disable_tqdm=True,
    )
    kwargs.update(overrides)
    return TrainingArguments(**compatible_args(kwargs))


def compatible_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Rename the arguments transformers renamed (before 5.2x: gradient_checkpointing, warmup_ratio)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    renames = {"activation_checkpointing": "gradient_checkpointing",
               "activation_checkpointing_kwargs": "gradient_checkpointing_kwargs", "warmup_steps": "warmup_ratio"}
    out = dict(kwargs)
    for new, old in renames.items():
        if new in out and new not in fields:
            out[old] = out.pop(new)
    if "warmup_ratio" in fields and isinstance(out.get("warmup_steps"), float):
        out["warmup_ratio"] = out.pop("warmup_steps")
    return out


def save_trainable(policy, path: str | Path, state_dict: dict | None = None) -> None:
    """The trainable tensors of ``policy`` (by name) as one safetensors file."""
    from safetensors.torch import save_file

    names = policy.trainable_names()
    state = policy.state_dict() if state_dict is None else state_dict
    missing = [n for n in names if n not in state]
    if missing:
        raise ModelError(f"cannot save {path}: {len(missing)} trainable tensors are missing, e.g. {missing[0]}")
    tensors = {n: state[n].detach().to("cpu").contiguous() for n in names}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    save_file(tensors, str(partial), metadata={"format": "pt"})
    os.replace(partial, path)  # never a half-written weights file under the final name


def load_trainable(policy, path: str | Path) -> None:
    """Load a :func:`save_trainable` file; its names must be exactly the policy's trainable ones."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise ModelError(f"{path}: checkpoint weights not found")
    tensors = load_file(str(path))
    names = set(policy.trainable_names())
    missing, unexpected = sorted(names - set(tensors)), sorted(set(tensors) - names)
    if missing or unexpected:
        raise ModelError(f"{path}: does not match this model's trainable weights "
                         f"({len(missing)} missing, e.g. {missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]})")
    result = policy.load_state_dict(tensors, strict=False)
    if result.unexpected_keys:
        raise ModelError(f"{path}: unexpected keys {result.unexpected_keys[:3]}")


class AvcapTrainer(Trainer):
    """``Trainer`` whose loss is ``objective(model, policy, batch)``; see the module docstring."""

    def __init__(self, *args, objective, run_config: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.run_config = run_config
        self._metrics: dict[str, list[torch.Tensor]] = defaultdict(list)
        self.first_step_metrics: dict[str, float] | None = None

    # -- FSDP: also on CPU processes, wrapping only the decoder layers this model has
    def create_accelerator_and_postprocess(self) -> None:
        super().create_accelerator_and_postprocess()
        if not self.is_fsdp_enabled and (self.args.fsdp_plugin_args is not None
                                         or os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"):
            self._enable_cpu_fsdp()
        if self.is_fsdp_enabled:
            self._keep_present_layer_classes(self.accelerator.state.fsdp_plugin)

    def _enable_cpu_fsdp(self) -> None:
        # accelerate (1.15) turns FSDP on only for GPU-like process groups: on CPU (gloo) it drops
        # the plugin and silently trains plain DDP. torch's FSDP2 runs on gloo, so turn it on
        # here; both shared states (PartialState is re-copied into AcceleratorState) must agree.
        from accelerate.state import PartialState
        from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

        state = self.accelerator.state
        if state.distributed_type != DistributedType.MULTI_CPU:
            return  # a single process: nothing to shard
        plugin_args = self.args.fsdp_plugin_args
        plugin = FullyShardedDataParallelPlugin(**plugin_args) if plugin_args else FullyShardedDataParallelPlugin()
        if plugin.fsdp_version != 2:
            raise ConfigError("FSDP on CPU processes needs FSDP2: set version: 2 in the FSDP config")
        if self.accelerator.mixed_precision != "no":
            plugin.set_mixed_precision(self.accelerator.mixed_precision)
        if plugin.activation_checkpointing and self.args.activation_checkpointing:
            raise ConfigError("set only one of the FSDP config's activation_checkpointing and "
                             "optim.gradient_checkpointing")
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
        state.distributed_type = DistributedType.FSDP
        state.fsdp_plugin = plugin
        self.is_fsdp_enabled = True

    def _keep_present_layer_classes(self, plugin) -> None:
        # One shipped config names the decoder layers of several families (Qwen2.5-VL, Qwen2);
        # accelerate fails on any name absent from the model, so keep the present ones.
        names = plugin.transformer_cls_names_to_wrap
        if not names:
            return
        present = {type(m).__name__ for m in self.model.modules()}
        kept = [n for n in names if n in present]
        if not kept:
            raise ConfigError(f"FSDP transformer_layer_cls_to_wrap names none of this model's layers "
                             f"({', '.join(names)}); add its decoder layer class to the FSDP config")
        plugin.transformer_cls_names_to_wrap = kept

    # -- batches are typed objects; the captioner moves what it builds to its device
    def _prepare_inputs(self, inputs):
        return inputs

    def _get_num_items_in_batch(self, batch_samples, device):
        return None  # objectives average per sequence themselves

    def floating_point_ops(self, inputs) -> int:
        return 0  # transformers' estimate needs input_ids; avcap does not report FLOPs

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        loss, metrics = self.objective(model, self.model, inputs)
        if self.first_step_metrics is None:
            self.first_step_metrics = {k: float(v) for k, v in metrics.items()}
            self.first_step_metrics["global_step"] = self.state.global_step
            self._check_reference(self.first_step_metrics)
        for key, value in metrics.items():
            self._metrics[key].append(value.detach().float())
        return (loss, metrics) if return_outputs else loss

    def _check_reference(self, first: dict[str, float]) -> None:
        # Policy == reference before the first update, so DPO's loss is exactly ln 2; anything
        # else means the reference is not the round-start model (e.g. dropout outside LoRA).
        if first["global_step"] == 0 and "dpo_loss" in first and abs(first["dpo_loss"] - LN2) > 1e-3:
            log.warning("first-step DPO loss %.6f differs from ln 2 = %.6f: the reference is not the "
                        "round-start policy", first["dpo_loss"], LN2)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self._metrics and "loss" in logs:  # a training log, not the end-of-run summary
            keys = sorted(self._metrics)
            means = torch.stack([torch.stack(self._metrics[k]).mean() for k in keys])
            if self.accelerator.num_processes > 1:  # every rank logs at the same step
                means = self.accelerator.reduce(means.to(self.accelerator.device), reduction="mean")
            logs.update({k: round(float(v), 6) for k, v in zip(keys, means.tolist())})
            self._metrics.clear()
        super().log(logs, start_time)

    # -- checkpoints: written to a staging folder, renamed into place when complete
    def _get_output_dir(self, trial) -> str:
        staging = getattr(self, "_staging_root", None)
        return str(staging) if staging is not None else super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        from transformers.trainer_utils import rotate_checkpoints

        run_dir = Path(super()._get_output_dir(trial))
        name = f"checkpoint-{self.state.global_step}"
        self._staging_root = run_dir / STAGING_DIR
        try:
            super()._save_checkpoint(model, trial)  # every file of checkpoint-N, into the staging folder
        finally:
            self._staging_root = None
        self.accelerator.wait_for_everyone()  # every rank has written its part
        if self.args.should_save:
            final = run_dir / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(run_dir / STAGING_DIR / name, final)
            try:
                (run_dir / STAGING_DIR).rmdir()  # only if empty: another rank's leftovers stay visible
            except OSError:
                pass
            rotate_checkpoints(output_dir=str(run_dir), save_total_limit=self.args.save_total_limit, use_mtime=True)
        self.accelerator.wait_for_everyone()

    # -- checkpoint contents: trainable weights + resolved config
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        save_trainable(self.model, Path(output_dir) / WEIGHTS_FILE, state_dict)
        if self.run_config is not None:
            save_config(self.run_config, Path(output_dir) / CONFIG_FILE)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:  # their own checkpoint formats
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_trainable(model or self.model, Path(resume_from_checkpoint) / WEIGHTS_FILE)


def checkpoint_is_complete(folder: Path) -> bool:
    """Trainer writes ``trainer_state.json`` last; the weights are ours (``model.safetensors``) or,
    under DeepSpeed / FSDP, their own shard folders."""
    has_weights = (folder / WEIGHTS_FILE).is_file() or any(p.is_dir() for p in folder.iterdir())
    return (folder / STATE_FILE).is_file() and has_weights


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder of a Trainer run, for resuming; newer incomplete
    ones are skipped with a warning naming them. A killed save's staging folder is removed."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    shutil.rmtree(folder / STAGING_DIR, ignore_errors=True)
    found = []
    for child in folder.iterdir():
        step = child.name.removeprefix("checkpoint-")
        if child.is_dir() and child.name.startswith("checkpoint-") and step.isdigit():
            found.append((int(step), child))
    for _, child in sorted(found, reverse=True):
        if checkpoint_is_complete(child):
            return str(child)
        missing = STATE_FILE if not (child / STATE_FILE).is_file() else WEIGHTS_FILE
        log.warning("skipping incomplete checkpoint %s (no %s)", child, missing)
    return None


def checkpoint_state(checkpoint: str | Path):
    """The ``TrainerState`` saved in a checkpoint folder."""
    from transformers import TrainerState

    return TrainerState.load_from_json(str(Path(checkpoint) / STATE_FILE))


def train_metrics(trainer: AvcapTrainer, state=None) -> dict[str, Any]:
    """What a report keeps of a run: first-step metrics, the last logged values, the log history
    (of ``state`` when given: a checkpoint's, for a run that had nothing left to train)."""
    state = state or trainer.state
    history = [dict(h) for h in state.log_history]
    steps = [h for h in history if "loss" in h]
    summary = next((h for h in reversed(history) if "train_runtime" in h), {})
    first = trainer.first_step_metrics or {}
    return {
        "global_step": state.global_step,
        "first_step": first,
        "first_step_dpo_loss_minus_ln2": (first["dpo_loss"] - LN2) if "dpo_loss" in first else None,
        "last": steps[-1] if steps else {},
        "train_runtime_s": summary.get("train_runtime"),
        "train_loss": summary.get("train_loss"),
        "log_history": history,
        "finite": all(math.isfinite(h["loss"]) for h in steps),
        "distributed_type": trainer.accelerator.distributed_type.value,  # NO, MULTI_CPU / MULTI_GPU, FSDP, DEEPSPEED
    }
