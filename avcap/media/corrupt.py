"""Tarsier2's frame corruptions for negative sampling (Tarsier2 §3.3, "Negative sampling").

Each corruption is a seeded pure function from the N sampled frame times to new frame times;
loading the result with ``load_clip(path, policy, frame_times=...)`` gives the corrupted clip.
The rules follow the release (``conduct_disturb_frame`` in bytedance/tarsier, branch tarsier2):

- ``exchange`` (clip-switching): cut the frames into 4 contiguous segments, swap two of them.
- ``reverse`` (clip-reversing): reverse a window of ceil(u * N) frames, u ~ U(0.5, 1).
- ``crop`` (clip-cropping): keep a window spanning all but ceil(N/4) frames (about 3/4 of the
  span; the paper says half) and resample N frames uniformly inside it.
- ``discard`` (down-sampling): keep a random half of the frames, in order.

The release's exchange indexes segment starts with ``range(0, N, ceil(N/4))``, which has fewer
than four entries for some N (e.g. 5) and then fails; we split with ``np.array_split`` instead,
so every N >= 2 works. Discard keeps at least one frame.
"""

from __future__ import annotations

import math

import numpy as np

CORRUPTIONS = ("exchange", "reverse", "crop", "discard")


def corrupt_frame_times(
    times: list[float],
    kind: str,
    seed: int,
    num_segments: int = 4,
    reverse_fraction: tuple[float, float] = (0.5, 1.0),
    crop_drop_fraction: float = 0.25,
    keep_fraction: float = 0.5,
) -> list[float]:
    """Apply the corruption ``kind`` to ``times`` with a generator seeded by ``seed``.

    >>> corrupt_frame_times([0.0, 1.0, 2.0, 3.0], "exchange", seed=0) != [0.0, 1.0, 2.0, 3.0]
    True
    """
    times = [float(t) for t in times]
    n = len(times)
    if n == 0:
        raise ValueError("no frame times to corrupt")
    rng = np.random.default_rng(seed)
    if kind == "exchange":
        return _exchange(times, rng, num_segments)
    if kind == "reverse":
        lo, hi = reverse_fraction
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"reverse_fraction must satisfy 0 < lo <= hi <= 1, got {reverse_fraction}")
        length = min(n, max(1, math.ceil(rng.uniform(lo, hi) * n)))
        start = int(rng.integers(0, n - length + 1))
        return times[:start] + times[start : start + length][::-1] + times[start + length :]
    if kind == "crop":
        if not 0 <= crop_drop_fraction < 1:
            raise ValueError(f"crop_drop_fraction must be in [0, 1), got {crop_drop_fraction}")
        drop = min(n - 1, math.ceil(n * crop_drop_fraction))
        first = int(rng.integers(0, drop + 1))
        last = n - 1 - (drop - first)
        return np.linspace(times[first], times[last], n).tolist()
    if kind == "discard":
        if not 0 < keep_fraction <= 1:
            raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
        keep = max(1, int(n * keep_fraction))
        chosen = np.sort(rng.choice(n, size=keep, replace=False))
        return [times[i] for i in chosen]
    raise ValueError(f"unknown corruption {kind!r} (choose from {', '.join(CORRUPTIONS)})")


def _exchange(times: list[float], rng: np.random.Generator, num_segments: int) -> list[float]:
    n = len(times)
    if n < 2:
        raise ValueError("exchange needs at least 2 frames")
    segments = [list(s) for s in np.array_split(np.asarray(times), min(num_segments, n))]
    a, b = rng.choice(len(segments), size=2, replace=False)
    segments[a], segments[b] = segments[b], segments[a]
    return [float(t) for seg in segments for t in seg]


def random_corruption(times: list[float], seed: int) -> tuple[str, list[float]]:
    """Pick one of the four kinds uniformly (as the release does) and apply it."""
    kind = CORRUPTIONS[int(np.random.default_rng(seed).integers(len(CORRUPTIONS)))]
    return kind, corrupt_frame_times(times, kind, seed)
