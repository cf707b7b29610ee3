"""``avcap train align``: audio modality alignment (video-SALMONN 2 §3.2).

Only the audio aligner (window Q-Former + projection) trains, with cross-entropy on speech
transcripts (ASR rows) and audio captions; the LLM, the visual encoder and the audio
encoder stay frozen, so the visual LLM's abilities are untouched. No LoRA.
"""

from __future__ import annotations

import time
from pathlib import Path

from avcap.train.configs import AlignConfig
from avcap.train.data import collate_supervised, load_rows, supervised_items
from avcap.train.objectives import SFTObjective
from avcap.train.recipes.common import fit, init_processes, load_model, write_config, write_report


def run_align(cfg: AlignConfig) -> dict:
    procs = init_processes(cfg.optim, cfg.model)
    out = Path(cfg.output_dir)
    write_config(cfg, out, procs)
    items = supervised_items(load_rows(cfg.data, what="training"), cfg.prompt)
    started = time.time()
    captioner = load_model(cfg.model, cfg.optim, procs)
    metrics = fit(cfg, procs, captioner, start=cfg.model.name, items=items, collator=collate_supervised,
                  objective=SFTObjective(), lora=None, train_aligner=True, optim=cfg.optim, out_dir=out,
                  no_dropout=cfg.disable_dropout)
    report = {"recipe": "align", "rows": len(items), "model": str(out / "model"), "seconds": time.time() - started,
              "train": metrics, "world_size": procs.world}
    write_report(out / "report.json", report, procs)
    return report
