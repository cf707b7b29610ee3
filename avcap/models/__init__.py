"""Captioners behind one interface: ``load_captioner(name_or_path)`` -> :class:`Captioner`.

Families: video-SALMONN 2 (``salmonn2``), Qwen2.5-Omni / Qwen3-Omni (``omni``, AVoCaDO),
Qwen2-VL / Qwen2.5-VL / Qwen3-VL (``vl``, Tarsier2). ``tiny:<name>`` builds a random-init
miniature of any of them offline. Nothing heavy is imported until a model is loaded.
"""

from avcap.models.base import DEFAULT_PROMPT, Captioner, GenerationConfig, TrainExample
from avcap.models.registry import DEFAULT_MODEL, load_captioner

__all__ = ["DEFAULT_MODEL", "DEFAULT_PROMPT", "Captioner", "GenerationConfig", "TrainExample", "load_captioner"]
