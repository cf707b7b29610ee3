"""``avcap train sft``: audio-visual SFT (video-SALMONN 2 §3.2).

A LoRA on the LLM and the audio aligner train jointly with cross-entropy on the answer
tokens only; encoders and the LLM's own weights stay frozen. The result is merged into a
plain captioner checkpoint (``output_dir/model``), the starting point of MrDPO.
"""

from __future__ import annotations

import time
from pathlib import Path

from avcap.train.configs import AlignConfig, LoraArgs, SFTConfig
from avcap.train.data import collate_supervised, config_rows, supervised_items
from avcap.train.objectives import SFTObjective
from avcap.train.recipes.common import (
    finished_report,
    fit,
    init_processes,
    load_model,
    write_config,
    write_report,
)


def run_sft(cfg: SFTConfig) -> dict:
    return run_supervised(cfg, "sft", lora=cfg.lora, train_aligner=cfg.train_aligner,
                          full_groups=tuple(cfg.train_groups), modality_mix=list(cfg.modality_mix))


def run_supervised(cfg: SFTConfig | AlignConfig, recipe: str, lora: LoraArgs | None, train_aligner: bool,
                   full_groups: tuple[str, ...] = (), modality_mix: list[int] | None = None) -> dict:
    """Cross-entropy on the answer tokens; shared by ``sft`` (LoRA + aligner) and ``align`` (aligner only)."""
    out = Path(cfg.output_dir)
    if (finished := finished_report(out)) is not None:
        return finished
    procs = init_processes(cfg.optim, cfg.model)
    write_config(cfg, out, procs)
    items = supervised_items(config_rows(cfg, cfg.data, what="training"), cfg.prompt)
    started = time.time()
    captioner = load_model(cfg.model, cfg.optim, procs)
    dataset, collator = None, collate_supervised
    if modality_mix:  # VideoLLaMA 2's audio-visual joint training: 2:1:1 groups (avcap.train.mix)
        from avcap.train.mix import MixedDataset, collate_mixed

        dataset = MixedDataset(items, modality_mix, captioner.frame_policy, seed=cfg.optim.seed)
        collator = collate_mixed
    metrics = fit(cfg, procs, captioner, start=cfg.model.name, items=items, collator=collator,
                  objective=SFTObjective(), lora=lora, train_aligner=train_aligner, optim=cfg.optim,
                  out_dir=out, no_dropout=cfg.disable_dropout, full_groups=full_groups, dataset=dataset)
    report = {"recipe": recipe, "rows": len(items), "model": str(out / "model"), "seconds": time.time() - started,
              "train": metrics, "world_size": procs.world}
    write_report(out / "report.json", report, procs)
    return report
