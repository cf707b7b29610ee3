"""How to build a configured captioner, as data: the local engine builds it here, the Ray engine
ships the spec to each replica (an actor loads its own copy on its own device)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptionerSpec:
    model: str
    backend: str = "auto"
    device: str = "auto"
    dtype: str | None = None  # None: the family's default (bf16 on GPU, float32 on CPU)
    adapter: str = "merge"
    base_model: str | None = None
    frames: str | None = None
    fps: float | None = None
    max_frames: int | None = None
    max_pixels: int | None = None
    interleave: str | None = None
    positions: str | None = None

    def load(self):
        """(captioner, frame policy) with every input option applied (``configure_captioner``)."""
        from avcap.models import load_captioner
        from avcap.models.options import configure_captioner

        captioner = load_captioner(self.model, backend=self.backend, device=self.device, dtype=self.dtype,
                                   adapter=self.adapter, base_model=self.base_model)
        policy = configure_captioner(captioner, frames=self.frames, fps=self.fps, max_frames=self.max_frames,
                                     max_pixels=self.max_pixels, interleave=self.interleave, positions=self.positions)
        return captioner, policy
