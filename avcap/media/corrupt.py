"""Tarsier2's frame corruptions for negative sampling (Tarsier2 §3.3, "Negative sampling").

Each corruption is a seeded pure function from the N sampled frame times to new frame times;
loading the result with ``load_clip(path, policy, frame_times=...)`` gives the corrupted clip.
The rules follow the release (``conduct_disturb_frame`` in bytedance/tarsier, branch tarsier2):

- ``exchange`` (clip-switching): cut the frames into 4 contiguous segments, swap two of them.
- ``reverse`` (clip-reversing): reverse a window of ceil(u * N) frames, u ~ U(0.5, 1).
- ``crop`` (clip-cropping): keep a window spanning all but ceil(N/4) frames (about 3/4 of the
  span; the paper says half) and resample N frames uniformly inside it.
- ``discard`` (down-sampling): keep a random half of the frames, in order.

Cropping has two spans: ``crop="release"`` (the default, above) and ``crop="paper"``: "N frames
are resampled from a random clip with half of the video's original duration" -- a window of
half the sampled span (first to last frame time) at a uniformly drawn start. The release is the
default because its code is what the authors published for building the preference data; the
paper's span is the named option.

The release's exchange indexes segment starts with ``range(0, N, ceil(N/4))``, which has fewer
than four entries for some N (e.g. 5) and then fails; we split with ``np.array_split`` instead,
so every N >= 2 works. Discard keeps at least one frame.

:func:`corrupt` also returns what was drawn (``Corruption.params``) so a preference row can
record it, and, for the three kinds that only reorder or drop frames, the positions of the
clean frames that make up the corrupted clip (``Corruption.indices``): those clips need no
second decode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CORRUPTIONS = ("exchange", "reverse", "crop", "discard")
CROP_MODES = ("release", "paper")
PAPER_CROP_SPAN = 0.5  # "a random clip with half of the video's original duration"


@dataclass(frozen=True)
class Corruption:
    """One drawn corruption: its kind, the new frame times and the parameters that made them."""

    kind: str
    seed: int
    times: list[float]
    params: dict = field(default_factory=dict)
    indices: list[int] | None = None  # positions of the clean frames used, in order (None for crop)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "params": dict(self.params),
                "frame_times": [round(t, 6) for t in self.times]}


def corrupt(
    times: list[float],
    kind: str,
    seed: int,
    crop: str = "release",
    num_segments: int = 4,
    reverse_fraction: tuple[float, float] = (0.5, 1.0),
    crop_drop_fraction: float = 0.25,
    keep_fraction: float = 0.5,
) -> Corruption:
    """Apply the corruption ``kind`` to ``times`` with a generator seeded by ``seed``.

    >>> c = corrupt([0.0, 1.0, 2.0, 3.0], "reverse", seed=1)
    >>> c.kind, c.params["length"] >= 2, sorted(c.times) == [0.0, 1.0, 2.0, 3.0]
    ('reverse', True, True)
    """
    times = [float(t) for t in times]
    n = len(times)
    if n == 0:
        raise ValueError("no frame times to corrupt")
    if crop not in CROP_MODES:
        raise ValueError(f"unknown crop mode {crop!r} (choose from {', '.join(CROP_MODES)})")
    rng = np.random.default_rng(seed)
    if kind == "exchange":
        if n < 2:
            raise ValueError("exchange needs at least 2 frames")
        bounds = np.array_split(np.arange(n), min(num_segments, n))
        a, b = (int(x) for x in rng.choice(len(bounds), size=2, replace=False))
        order = [list(s) for s in bounds]
        order[a], order[b] = order[b], order[a]
        indices = [int(i) for seg in order for i in seg]
        return Corruption(kind, seed, [times[i] for i in indices],
                          {"segments": len(bounds), "swapped": sorted([a, b])}, indices)
    if kind == "reverse":
        lo, hi = reverse_fraction
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"reverse_fraction must satisfy 0 < lo <= hi <= 1, got {reverse_fraction}")
        length = min(n, max(1, math.ceil(rng.uniform(lo, hi) * n)))
        start = int(rng.integers(0, n - length + 1))
        indices = list(range(start)) + list(range(start + length - 1, start - 1, -1)) + list(range(start + length, n))
        return Corruption(kind, seed, [times[i] for i in indices], {"start": start, "length": length}, indices)
    if kind == "crop":
        if crop == "paper":
            span = (times[-1] - times[0]) * PAPER_CROP_SPAN
            first = float(rng.uniform(times[0], times[-1] - span)) if span > 0 else times[0]
            new = np.linspace(first, first + span, n).tolist()
            return Corruption(kind, seed, new, {"mode": "paper", "start": first, "end": first + span})
        if not 0 <= crop_drop_fraction < 1:
            raise ValueError(f"crop_drop_fraction must be in [0, 1), got {crop_drop_fraction}")
        drop = min(n - 1, math.ceil(n * crop_drop_fraction))
        first = int(rng.integers(0, drop + 1))
        last = n - 1 - (drop - first)
        new = np.linspace(times[first], times[last], n).tolist()
        return Corruption(kind, seed, new, {"mode": "release", "start": times[first], "end": times[last],
                                            "first_frame": first, "last_frame": last})
    if kind == "discard":
        if not 0 < keep_fraction <= 1:
            raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
        keep = max(1, int(n * keep_fraction))
        indices = [int(i) for i in np.sort(rng.choice(n, size=keep, replace=False))]
        return Corruption(kind, seed, [times[i] for i in indices], {"kept": indices}, indices)
    raise ValueError(f"unknown corruption {kind!r} (choose from {', '.join(CORRUPTIONS)})")


def corrupt_frame_times(times: list[float], kind: str, seed: int, **options) -> list[float]:
    """Only the new frame times of :func:`corrupt`.

    >>> corrupt_frame_times([0.0, 1.0, 2.0, 3.0], "exchange", seed=0) != [0.0, 1.0, 2.0, 3.0]
    True
    """
    return corrupt(times, kind, seed, **options).times


def draw_kind(seed: int) -> str:
    """One of the four kinds, uniformly (the release's ``random.choice``; the paper names no weights)."""
    return CORRUPTIONS[int(np.random.default_rng(seed).integers(len(CORRUPTIONS)))]


def random_corruption(times: list[float], seed: int, crop: str = "release") -> tuple[str, list[float]]:
    """Pick one of the four kinds uniformly (as the release does) and apply it."""
    kind = draw_kind(seed)
    return kind, corrupt(times, kind, seed, crop=crop).times
