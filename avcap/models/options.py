"""Input options of a loaded captioner, set from the command line: frames and model-specific layouts.

``configure_captioner`` applies ``--frames`` / ``--fps`` / ``--max-frames`` / ``--max-pixels`` (to
the media policy and to the model's own pixel budget, so the two agree), ``--interleave`` (first
release) and ``--positions`` (2+), and returns the policy clips are to be decoded with.
"""

from __future__ import annotations

import dataclasses

from avcap.errors import ModelError


def configure_captioner(captioner, *, frames=None, fps: float | None = None, max_frames: int | None = None,
                        max_pixels: int | None = None, interleave: str | None = None,
                        positions: str | None = None):
    """Apply the options to ``captioner`` in place; return its (possibly new) frame policy."""
    from avcap.media.policies import get_policy

    policy = get_policy(frames or captioner.frame_policy).overridden(fps=fps, max_frames=max_frames,
                                                                     max_pixels=max_pixels)
    if frames is not None or policy != get_policy(captioner.frame_policy):
        captioner.frame_policy = policy  # a 2+ captioner takes the policy's pixel budget with it
    pixels = getattr(captioner, "pixels", None)
    if max_pixels is not None and pixels is not None:  # Qwen-Omni / Qwen-VL processors size frames themselves
        captioner.pixels = dataclasses.replace(pixels, max_pixels=max_pixels,
                                               min_pixels=min(pixels.min_pixels, max_pixels),
                                               total_pixels=max(pixels.total_pixels, min(pixels.min_pixels, max_pixels)))
    if interleave is not None or positions is not None:
        setter = getattr(captioner, "set_input_options", None)
        if setter is None:
            flag = "--interleave" if interleave is not None else "--positions"
            raise ModelError(f"{captioner.name}: {flag} applies to video-SALMONN 2 checkpoints only")
        setter(interleave=interleave, positions=positions)
    return captioner.frame_policy
