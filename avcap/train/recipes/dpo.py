"""``avcap train dpo`` / ``gdpo``: one DPO or gDPO round on preference rows (video-SALMONN 2 §3.3.2).

A fresh LoRA is the policy's only new part; the reference is the same weights with that
adapter disabled (the round-start model), so there is no second copy of the LLM. gDPO adds
λ times the cross-entropy of the ground-truth caption (eq. 9). The merged result is written
to ``output_dir/model``.
"""

from __future__ import annotations

import time
from pathlib import Path

from avcap.train.configs import DPOConfig
from avcap.train.data import PreferenceCollator, config_rows, preference_items
from avcap.train.objectives import DPOObjective
from avcap.train.recipes.common import (
    finished_report,
    fit,
    init_processes,
    load_model,
    write_config,
    write_report,
)


def run_dpo(cfg: DPOConfig) -> dict:
    out = Path(cfg.output_dir)
    if (finished := finished_report(out)) is not None:
        return finished
    procs = init_processes(cfg.optim, cfg.model)
    write_config(cfg, out, procs)
    gdpo = cfg.objective == "gdpo"
    items = preference_items(config_rows(cfg, cfg.data, what="preference"), cfg.prompt, need_reference=gdpo)
    objective = DPOObjective(beta=cfg.beta, lam=cfg.lam, gdpo=gdpo, concat_forward=cfg.concat_forward)
    started = time.time()
    captioner = load_model(cfg.model, cfg.optim, procs)
    metrics = fit(cfg, procs, captioner, start=cfg.model.name, items=items, collator=PreferenceCollator(gdpo),
                  objective=objective, lora=cfg.lora, train_aligner=cfg.train_aligner, optim=cfg.optim, out_dir=out,
                  no_dropout=cfg.disable_dropout)
    report = {"recipe": cfg.objective, "pairs": len(items), "model": str(out / "model"),
              "seconds": time.time() - started, "train": metrics, "world_size": procs.world}
    write_report(out / "report.json", report, procs)
    return report
