"""What every recipe does the same way: processes, loading, the final merge, reports.

A recipe's output folder::

    output_dir/
      config.yaml                  the resolved config of the run
      checkpoints/checkpoint-N/    Trainer's resumable checkpoints (trainable weights + optimizer)
      trained/model.safetensors    the trained LoRA + aligner, with config.yaml beside it
      model/                       the merged captioner (load_captioner / avcap caption read it)
      fit.json                     the training metrics, written last: the run is finished
      report.json

A kill at any moment leaves a state the next run resumes from: checkpoints appear only when
complete (see :mod:`avcap.train.trainer`), ``trained/`` and ``model/`` are written atomically,
and a finished run is not trained again — re-running it reports "already finished".
"""

from __future__ import annotations

import gc
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from avcap.config import save_config
from avcap.data import atomic_write_json
from avcap.errors import ConfigError, ModelError
from avcap.train.configs import LoraArgs, ModelArgs, OptimArgs

log = logging.getLogger("avcap.train")
FIT_DONE = "fit.json"


@dataclass
class Processes:
    """This process's place among the launched ones (torchrun / accelerate launch), or a single one."""

    rank: int
    world: int
    local_rank: int
    state: Any  # accelerate.PartialState

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            self.state.wait_for_everyone()


def init_processes(optim: OptimArgs, model: ModelArgs) -> Processes:
    """Join the process group the launcher set up (gloo on CPU, nccl on GPU); a no-op alone.

    Created before ``TrainingArguments`` (MrDPO needs barriers before its first Trainer), with
    the same CPU/GPU choice, so that Trainer reuses it.
    """
    import torch
    from accelerate import PartialState

    cpu = model.device == "cpu" or (model.device == "auto" and not torch.cuda.is_available())
    state = PartialState(cpu=cpu, timeout=timedelta(seconds=optim.ddp_timeout_s))
    return Processes(state.process_index, state.num_processes, state.local_process_index, state)


def resolve_device(model: ModelArgs, procs: Processes) -> str:
    import torch

    if model.device != "auto":
        return model.device
    return f"cuda:{procs.local_rank}" if torch.cuda.is_available() else "cpu"


def resolve_dtype(model: ModelArgs, optim: OptimArgs, device: str) -> str:
    """float32 unless asked, or bf16 weights for bf16 training on a GPU (the frozen LLM's memory)."""
    if model.dtype != "auto":
        return {"fp32": "float32", "bf16": "bfloat16"}.get(model.dtype, model.dtype)
    return "bfloat16" if optim.precision == "bf16" and device.startswith("cuda") else "float32"


def load_model(model: ModelArgs, optim: OptimArgs, procs: Processes, name: str | None = None, device: str | None = None):
    """The captioner ``name`` (default ``model.name``) on this process's device."""
    from avcap.models import load_captioner

    device = device or resolve_device(model, procs)
    captioner = load_captioner(name or model.name, backend=model.backend, device=device,
                               dtype=resolve_dtype(model, optim, device))
    captioner.model.train()  # dropout as configured; generation switches to eval itself
    return captioner


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".index.json")


def save_captioner(captioner, source: str, out_dir: str | Path) -> Path:
    """Write ``captioner`` as a checkpoint folder that ``load_captioner`` reads back.

    Uses the captioner's own ``save_pretrained`` when it has one; otherwise copies the
    non-weight files (tokenizer, processor) of the checkpoint it was loaded from and lets the
    transformers model write its config and weights. Written beside the target, then renamed, so
    an existing folder is always complete.
    """
    import shutil

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save = getattr(captioner, "save_pretrained", None)
    if save is not None:
        save(tmp)
    else:
        from avcap.models.registry import resolve_checkpoint

        for file in resolve_checkpoint(source).iterdir():
            if file.is_file() and not file.name.endswith(WEIGHT_SUFFIXES):
                shutil.copy2(file, tmp / file.name)
        if hasattr(captioner.model, "save_pretrained"):  # a transformers model (Qwen-Omni / Qwen-VL families)
            captioner.model.save_pretrained(tmp)
        else:
            raise ModelError(f"{captioner.name}: this captioner cannot be saved (no save_pretrained)")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def merge_to_checkpoint(model: ModelArgs, optim: OptimArgs, procs: Processes, *, start: str, lora: LoraArgs | None,
                        train_aligner: bool, trainable: Path, out_dir: Path,
                        full_groups: tuple[str, ...] = ()) -> Path:
    """Rebuild ``start`` on the CPU, load the trained weights, merge the LoRA (eq. 8), save the result.

    Rebuilding from the saved trainable weights (instead of merging the live model) works the
    same under DDP, FSDP and ZeRO-3, whose live parameters may be sharded; it also proves the
    saved checkpoint is complete. Runs on the main process only.
    """
    from avcap.train.policy import PolicyModule
    from avcap.train.trainer import load_trainable

    captioner = load_model(model, optim, procs, name=start, device="cpu")
    policy = PolicyModule.build(captioner, lora=lora, train_aligner=train_aligner, seed=optim.seed,
                                full_groups=full_groups)
    load_trainable(policy, trainable)
    policy.merge()
    captioner.model.eval()
    save_captioner(captioner, start, out_dir)
    del policy, captioner
    free_memory()
    return out_dir


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def finished_report(output_dir: str | Path) -> dict | None:
    """The report of a run that already finished in ``output_dir`` (its report.json and merged
    model exist), marked ``already_finished``; None when there is work left. Recipes call this
    first, so a re-run neither trains past its steps nor rewrites ``model/``."""
    out = Path(output_dir)
    report_path = out / "report.json"
    if not report_path.is_file():
        return None
    report = json.loads(report_path.read_text(encoding="utf-8"))
    model = Path(report.get("final_model") or report.get("model") or out / "model")
    if not (model / "config.json").is_file():
        return None
    log.info("%s already finished (model at %s); delete it or choose another output_dir to train again", out, model)
    return {**report, "already_finished": True}


def write_config(cfg: Any, output_dir: str | Path, procs: Processes) -> None:
    if procs.is_main:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        save_config(cfg, Path(output_dir) / "config.yaml")


def write_report(path: str | Path, report: dict, procs: Processes) -> None:
    if procs.is_main:
        atomic_write_json(path, report)


def use_cpu(device: str) -> bool:
    return device.startswith("cpu")


def fit(cfg: Any, procs: Processes, captioner, *, start: str, items: list, collator, objective, lora: LoraArgs | None,
        train_aligner: bool, optim: OptimArgs, out_dir: Path, learning_rate: float | None = None,
        no_dropout: bool = False, full_groups: tuple[str, ...] = (), dataset: Any = None,
        snapshot_full_groups: bool = False, configure: Any = None) -> dict:
    """Train one adapter (and/or the aligner) on ``items``, then write ``out_dir/model``, merged.

    ``dataset`` replaces the default one-item-per-row dataset of ``items`` (e.g. modality-mixed groups).
    ``snapshot_full_groups`` keeps the start values of ``full_groups`` for the reference (GRPO);
    ``configure(trainer)`` is called once the Trainer exists (GRPO's objective reads its step).

    ``start`` names the checkpoint ``captioner`` was loaded from (the merge rebuilds it).
    Re-running after a kill resumes from the newest complete ``out_dir/checkpoints/checkpoint-N``;
    a fit that already finished (``out_dir/fit.json``) is not repeated.
    Returns the training metrics for the report.
    """
    from avcap.train.data import ClipDataset
    from avcap.train.objectives import DPOObjective
    from avcap.train.policy import PolicyModule
    from avcap.train.trainer import (
        CONFIG_FILE,
        WEIGHTS_FILE,
        AvcapTrainer,
        checkpoint_state,
        last_checkpoint,
        train_metrics,
        training_arguments,
    )

    done = out_dir / FIT_DONE
    if done.is_file() and (out_dir / "model" / "config.json").is_file():
        log.info("%s: training already finished; keeping its model", out_dir)
        return {**json.loads(done.read_text(encoding="utf-8")), "already_finished": True}

    policy = PolicyModule.build(captioner, lora=lora, train_aligner=train_aligner, seed=optim.seed,
                                no_dropout=no_dropout, full_groups=full_groups,
                                snapshot_full_groups=snapshot_full_groups)
    device = str(next(policy.parameters()).device)
    args = training_arguments(optim, out_dir / "checkpoints", learning_rate=learning_rate, use_cpu=use_cpu(device))
    trainer = AvcapTrainer(
        model=policy, args=args,
        train_dataset=dataset if dataset is not None else ClipDataset(items, captioner.frame_policy),
        data_collator=collator, objective=objective, run_config=cfg,
    )
    if configure is not None:
        configure(trainer)
    if policy.aligner_snapshot and (isinstance(objective, DPOObjective) or snapshot_full_groups) and (
            trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled and _zero_stage(trainer) == 3):
        raise ConfigError("FSDP and ZeRO-3 shard the aligner, so its round-start copy cannot serve the DPO "
                          "reference: set train_aligner: false, or use ZeRO-2 / DDP")
    resume = last_checkpoint(out_dir / "checkpoints")
    state = checkpoint_state(resume) if resume else None
    if state is not None and state.max_steps > 0 and state.global_step >= state.max_steps \
            and (Path(resume) / WEIGHTS_FILE).is_file():
        # Killed after its last checkpoint: nothing is left to train. (Trainer would take one more
        # step when resumed at max_steps, because it checks the step count only after a step.)
        log.info("%s reached max_steps %d; not training further", resume, state.max_steps)
        if procs.is_main:
            _copy_checkpoint_weights(Path(resume), out_dir / "trained", (WEIGHTS_FILE, CONFIG_FILE))
        metrics = train_metrics(trainer, state)
    else:
        trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(out_dir / "trained"))  # trainable weights only, gathered across ranks
        metrics = train_metrics(trainer)
    metrics["resumed_from"] = resume
    metrics["trainable_parameters"] = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    del trainer, policy
    # ZeRO-3's TrainingArguments register a global that makes every later transformers model
    # build a collective deepspeed.zero.Init: the main process's merge below would wait forever.
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    free_memory()
    procs.barrier()
    if procs.is_main:
        merge_to_checkpoint(cfg.model, optim, procs, start=start, lora=lora, train_aligner=train_aligner,
                            trainable=out_dir / "trained" / WEIGHTS_FILE, out_dir=out_dir / "model",
                            full_groups=full_groups)
        atomic_write_json(done, metrics)
    procs.barrier()
    return metrics


def _copy_checkpoint_weights(checkpoint: Path, trained: Path, names: tuple[str, ...]) -> None:
    import os
    import shutil

    trained.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (checkpoint / name).is_file():
            partial = trained / f".{name}.partial"
            shutil.copy2(checkpoint / name, partial)
            os.replace(partial, trained / name)


def _zero_stage(trainer) -> int | None:
    return trainer.accelerator.state.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else None
