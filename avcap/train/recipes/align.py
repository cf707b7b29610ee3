"""``avcap train align``: audio modality alignment (video-SALMONN 2 §3.2).

Only the audio aligner (window Q-Former + projection) trains, with cross-entropy on speech
transcripts (ASR rows) and audio captions; the LLM, the visual encoder and the audio
encoder stay frozen, so the visual LLM's abilities are untouched. No LoRA. ``train_groups``
opens more groups in full -- for a model built from scratch, whose audio encoder is not
pretrained (the nano captioner trains its Whisper here).
"""

from __future__ import annotations

from avcap.train.configs import AlignConfig
from avcap.train.recipes.sft import run_supervised


def run_align(cfg: AlignConfig) -> dict:
    return run_supervised(cfg, "align", lora=None, train_aligner=True, full_groups=tuple(cfg.train_groups))
