"""The one interface every captioner family implements (see DESIGN.md, "One interface")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from avcap.media.clip import Clip

DEFAULT_PROMPT = "Please describe the video in detail, including what happens, in what order, who speaks and what sounds occur."


@dataclass
class GenerationConfig:
    """How captions are decoded. ``temperature == 0`` means greedy decoding.

    ``max_new_tokens`` None means the captioner's own limit (``default_max_new_tokens``: what its
    authors evaluate with -- 1024 for video-SALMONN 2, 2048 for AVoCaDO, 512 for Tarsier2).
    """

    max_new_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    num_samples: int = 1
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.num_samples < 1:
            raise ValueError("num_samples must be >= 1")
        if self.num_samples > 1 and self.temperature == 0:
            raise ValueError("num_samples > 1 needs sampling: set temperature > 0")

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0


@dataclass
class TrainExample:
    """One training item for ``sequence_logps``: the answer's tokens are scored given clip + prompt."""

    clip: Clip
    prompt: str
    answer: str


@runtime_checkable
class Captioner(Protocol):
    """What ``load_captioner`` returns.

    ``caption`` returns ``len(clips) * generation.num_samples`` strings, clip-major
    (all samples of clip 0, then clip 1, ...). ``sequence_logps`` returns the summed
    log-probability of each answer in a training batch, shape [B].
    """

    name: str
    family: str
    frame_policy: Any  # the avcap.media sampling policy this model expects: a name or a SamplingPolicy
    default_prompt: str  # the caption prompt its authors use
    default_max_new_tokens: int  # the caption length limit its authors use (GenerationConfig.max_new_tokens None)

    def caption(self, clips: list[Clip], prompt: str, generation: GenerationConfig) -> list[str]:
        """Captioners also take ``prefix=`` (text the answer is forced to start with; a row's ``prefix``)."""
        ...

    def sequence_logps(self, batch: list[TrainExample], return_counts: bool = False) -> Any:
        """Tensor [B] (differentiable); with ``return_counts``, (logps [B], answer token counts [B])."""
        ...

    def input_audit(self) -> list[dict]:
        """What the model received for each clip of the last ``caption`` call, in order (the model
        half of a caption row's modality audit, :mod:`avcap.models.audit`): ``audio_tokens``,
        ``visual_tokens``, ``audio_seconds_fed`` (seconds of the track its processor kept) and
        ``audio_cut`` (the processor dropped part of the track)."""
        ...
