"""Sampling policies: which frame times and what frame size each captioner family expects.

A policy is a small frozen dataclass; ``plan(...)`` is a pure function of the source's duration,
frame rate and size. ``get_policy(name, **overrides)`` selects one by the names the CLI flag
``--frames`` accepts. The model's own processor still normalises the frames; a policy only
decides *which* frames are decoded and bounds their size so memory stays small.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

from avcap.errors import ConfigError
from avcap.media import sampling


@dataclass(frozen=True)
class SamplingPlan:
    """What a policy picks for one video."""

    frame_times: list[float]  # [N] seconds from the first video frame, in the order the model sees them
    height: int  # output frame height (after padding, if any)
    width: int
    content_height: int  # the resized picture inside the frame (== height/width unless padded)
    content_width: int
    pad_value: int | None = None  # grey level of the square padding, None = no padding


@dataclass(frozen=True)
class SamplingPolicy:
    """Base of every policy: subclasses define ``frame_times`` and ``content_size``."""

    name: str = ""
    pad_value: int | None = field(default=None, init=False)

    def frame_times(self, duration_s: float, source_fps: float, num_source_frames: int | None = None) -> list[float]:
        raise NotImplementedError

    def content_size(self, height: int, width: int, num_frames: int) -> tuple[int, int]:
        """(height, width) of the resized upright picture."""
        raise NotImplementedError

    def output_size(self, height: int, width: int, num_frames: int) -> tuple[int, int]:
        return self.content_size(height, width, num_frames)

    def plan(
        self, duration_s: float, source_fps: float, height: int, width: int, num_source_frames: int | None = None
    ) -> SamplingPlan:
        times = self.frame_times(duration_s, source_fps, num_source_frames)
        ch, cw = self.content_size(height, width, len(times))
        oh, ow = self.output_size(height, width, len(times))
        return SamplingPlan(times, oh, ow, ch, cw, self.pad_value)

    def uncapped_frame_count(self, duration_s: float, source_fps: float,
                             num_source_frames: int | None = None) -> int | None:
        """How many frames this policy's *rate* would pick with its frame cap lifted (None: it has
        no rate and cap, e.g. Tarsier2's fixed count). More than ``len(frame_times(...))`` means
        the cap cut frames: the modality audit's ``frames_capped``."""
        rate, cap = self.KNOBS.get("fps"), self.KNOBS.get("max_frames")
        if rate is None or cap is None:
            return None
        lifted = dataclasses.replace(self, **{cap: 10**6})
        return len(lifted.frame_times(duration_s, source_fps, num_source_frames))

    def at_times(self, times: list[float]) -> FixedTimesPolicy:
        """This policy's frame size, but the given frame times (e.g. a Tarsier2 corruption)."""
        return FixedTimesPolicy(base=self, times=tuple(float(t) for t in times))

    def describe(self) -> str:
        settings = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self) if f.init and f.name != "name")
        return f"{self.name} ({settings})"

    def label(self) -> str:
        """The name for a policy with its defaults, ``describe()`` once a setting was changed (so a
        captions file records, and a resume compares, the frames actually used)."""
        factory = POLICIES.get(self.name)
        try:
            default = factory() if factory is not None else None
        except ConfigError:
            default = None
        return self.name if default == self else self.describe()

    # The policy's own setting behind each generic ``avcap caption`` flag (--fps, --max-frames,
    # --max-pixels); None: the policy has no such knob (the reason is given in NO_KNOB).
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": None, "max_frames": None, "max_pixels": None}
    NO_KNOB: ClassVar[dict[str, str]] = {}

    def overridden(self, fps: float | None = None, max_frames: int | None = None,
                   max_pixels: int | None = None) -> SamplingPolicy:
        """This policy with the generic frame-rate / frame-count / per-frame pixel limits replaced.

        >>> get_policy("salmonn2-plus").overridden(fps=5, max_frames=64).describe()
        'salmonn2-plus (interval_s=0.2, min_frames=16, max_frames=64, max_pixels=61250, min_pixels=3136)'
        """
        values = {"fps": fps, "max_frames": max_frames, "max_pixels": max_pixels}
        changes = {}
        for generic, value in values.items():
            if value is None:
                continue
            knob = self.KNOBS.get(generic)
            if knob is None:
                flag = "--" + generic.replace("_", "-")
                reason = self.NO_KNOB.get(generic, "it has no such setting")
                raise ConfigError(f"{flag} does not apply to frame policy {self.name}: {reason}")
            if not value > 0:
                raise ConfigError(f"--{generic.replace('_', '-')} must be > 0, got {value!r}")
            changes[knob] = 1.0 / value if knob == "interval_s" else value
        if not changes:
            return self
        names = {f.name for f in dataclasses.fields(self)}
        # Lowering a maximum lowers the matching minimum with it, rather than failing validation.
        for low, high in (("min_frames", "max_frames"), ("min_pixels", "max_pixels")):
            if low in names and high in changes:
                changes.setdefault(low, min(getattr(self, low), changes[high]))
        return dataclasses.replace(self, **changes)


def _positive(policy: str, **values: float) -> None:
    for key, value in values.items():
        if value is None or not value > 0:
            raise ConfigError(f"policy {policy}: {key} must be > 0, got {value!r}")


@dataclass(frozen=True)
class Salmonn2Policy(SamplingPolicy):
    """video-SALMONN 2 (§3.1, §4.1): 1 fps, at most 110 frames, uniform above; short side <= ``size``.

    ``size`` 384 is the SigLIP-so400m-384 input of the first release; frames are not upscaled.
    """

    name: str = "salmonn2"
    fps: float = 1.0
    max_frames: int = 110
    size: int = 384
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": "fps", "max_frames": "max_frames", "max_pixels": None}
    NO_KNOB: ClassVar[dict[str, str]] = {
        "max_pixels": "the first release resizes every frame to its SigLIP input (384x384); "
                      "frames are only bounded to a short side of `size` while decoding"}

    def __post_init__(self) -> None:
        _positive(self.name, fps=self.fps, max_frames=self.max_frames, size=self.size)

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        return sampling.salmonn2_frame_times(duration_s, self.fps, self.max_frames)

    def content_size(self, height, width, num_frames):
        return sampling.short_side_size(height, width, self.size)


@dataclass(frozen=True)
class Salmonn2PlusPolicy(SamplingPolicy):
    """video-SALMONN 2+ evaluation input (``inference.py`` / README of the 2+ release).

    One frame per ``interval_s`` (0.1 s), 16..768 frames by linspace (``salmonn2_plus_frame_times``);
    each frame ``smart_resize``d to multiples of 28 within [min_pixels, budget], the budget being
    ``max_pixels`` (61,250) raised by 0.95 * max_frames / n for clips with fewer than max_frames
    frames (``salmonn2_plus_frame_max_pixels``). The checkpoint's processor applies the same rule,
    so frames arrive at the size the release would give them.
    """

    name: str = "salmonn2-plus"
    interval_s: float = 0.1
    min_frames: int = 16
    max_frames: int = 768
    max_pixels: int = 61_250
    min_pixels: int = 4 * 28 * 28  # the release's video_min_frame_pixels
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": "interval_s", "max_frames": "max_frames",
                                               "max_pixels": "max_pixels"}

    def __post_init__(self) -> None:
        _positive(self.name, interval_s=self.interval_s, min_frames=self.min_frames, max_frames=self.max_frames,
                  max_pixels=self.max_pixels, min_pixels=self.min_pixels)
        if self.min_frames > self.max_frames:
            raise ConfigError(f"policy {self.name}: min_frames {self.min_frames} > max_frames {self.max_frames}")

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        return sampling.salmonn2_plus_frame_times(duration_s, source_fps, self.interval_s, self.min_frames,
                                                  self.max_frames, num_source_frames)

    def frame_budget(self, num_frames: int) -> float:
        """Pixels one frame may keep when ``num_frames`` are sampled."""
        return sampling.salmonn2_plus_frame_max_pixels(num_frames, self.max_pixels, self.max_frames)

    def content_size(self, height, width, num_frames):
        return sampling.smart_resize(height, width, sampling.QWEN_PATCH_FACTOR, self.min_pixels,
                                     self.frame_budget(num_frames))


@dataclass(frozen=True)
class QwenPolicy(SamplingPolicy):
    """Qwen2.5-Omni / Qwen2.5-VL video input (qwen-omni-utils / qwen-vl-utils ``fetch_video``).

    ``fps`` frames per second (even count), each frame ``smart_resize``d to multiples of 28 within
    [min_pixels, per-frame cap], the cap shrinking so all frames fit ``total_pixels``. Where the
    release's per-frame floor (1.05 * min_pixels) would overrun ``total_pixels`` on long videos,
    ``enforce_total`` drops frame pairs until the total holds (the release silently overruns).

    AVoCaDO's total: its scripts set ``VIDEO_MAX_PIXELS=20070400`` in the environment *after*
    importing qwen-omni-utils, which reads its limits at import (0.0.4-0.0.8) or not from the
    environment at all (0.0.9): the run that produced the paper's numbers used the library's
    default total, 128,000 x 28 x 28 x 0.9 = 90,316,800 pixels. That effective total is the
    ``omni`` default; ``omni-paper`` is the 20,070,400 (25,600 tokens) the paper and scripts state.
    """

    name: str = "omni"
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    min_pixels: int = sampling.QWEN_VIDEO_MIN_PIXELS
    max_pixels: int = 512 * 28 * 28  # AVoCaDO: 401,408 pixels per frame
    total_pixels: int = int(128_000 * 28 * 28 * 0.9)  # what AVoCaDO's run gets: 90,316,800 (see above)
    enforce_total: bool = True
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": "fps", "max_frames": "max_frames", "max_pixels": "max_pixels"}

    def __post_init__(self) -> None:
        _positive(self.name, fps=self.fps, min_frames=self.min_frames, max_frames=self.max_frames,
                  min_pixels=self.min_pixels, max_pixels=self.max_pixels, total_pixels=self.total_pixels)
        if self.max_pixels < self.min_pixels:
            raise ConfigError(f"policy {self.name}: max_pixels {self.max_pixels} < min_pixels {self.min_pixels}")

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        return sampling.qwen_frame_times(
            duration_s, source_fps, self.fps, self.min_frames, self.max_frames, num_source_frames
        )

    def content_size(self, height, width, num_frames):
        cap = sampling.qwen_frame_max_pixels(num_frames, self.max_pixels, self.total_pixels, self.min_pixels)
        return sampling.smart_resize(height, width, sampling.QWEN_PATCH_FACTOR, self.min_pixels, cap)

    def plan(self, duration_s, source_fps, height, width, num_source_frames=None):
        policy = self
        while True:
            result = SamplingPolicy.plan(policy, duration_s, source_fps, height, width, num_source_frames)
            n = len(result.frame_times)
            # n frames = n/2 temporal patches of h*w pixels each: the budget is on n/2 * h * w.
            if not self.enforce_total or n <= 2 or n * result.height * result.width <= 2 * self.total_pixels:
                return result
            policy = dataclasses.replace(policy, max_frames=n - 2, min_frames=min(policy.min_frames, n - 2))


@dataclass(frozen=True)
class Tarsier2Policy(SamplingPolicy):
    """Tarsier2: ``num_frames`` uniform frames including first and last; area <= ``max_pixels``.

    460,800 (= 1280*720/2) with no rounding factor is the release's default ``resize2pixels``.
    """

    name: str = "tarsier2"
    num_frames: int = 16
    max_pixels: int = 460_800
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": None, "max_frames": "num_frames", "max_pixels": "max_pixels"}
    NO_KNOB: ClassVar[dict[str, str]] = {"fps": "it takes a fixed number of uniform frames (set it with --max-frames)"}

    def __post_init__(self) -> None:
        _positive(self.name, num_frames=self.num_frames, max_pixels=self.max_pixels)

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        return sampling.tarsier2_frame_times(duration_s, source_fps, self.num_frames, num_source_frames)

    def content_size(self, height, width, num_frames):
        return sampling.smart_resize(height, width, factor=1, min_pixels=0, max_pixels=self.max_pixels)


@dataclass(frozen=True)
class VideoLLaMA2Policy(SamplingPolicy):
    """VideoLLaMA 2: the middle frame of each of ``num_frames`` segments.

    Its inference (``model_init``: ``aspect_ratio=None``) hands each frame to the tower's image
    processor as it is, which resizes it to a square (SigLIP) or crops its centre (CLIP): frames
    are decoded with their short side at ``size`` (never upscaled). Its training scripts
    (``--image_aspect_ratio pad``) and the paper pad each frame to a square first, with the
    SigLIP mean grey (0.5 * 255 -> 127): ``pad=True`` resizes the long side to ``size`` and pads.
    """

    name: str = "videollama2"
    num_frames: int = 16
    size: int = 384
    pad: bool = False
    KNOBS: ClassVar[dict[str, str | None]] = {"fps": None, "max_frames": "num_frames", "max_pixels": None}
    NO_KNOB: ClassVar[dict[str, str]] = {
        "fps": "it takes a fixed number of segment-middle frames (set it with --max-frames)",
        "max_pixels": "its frames go whole to the tower's processor, which resizes them to its square input"}

    def __post_init__(self) -> None:
        _positive(self.name, num_frames=self.num_frames, size=self.size)
        object.__setattr__(self, "pad_value", 127 if self.pad else None)

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        return sampling.videollama2_frame_times(duration_s, source_fps, self.num_frames, num_source_frames)

    def content_size(self, height, width, num_frames):
        if not self.pad:
            return sampling.short_side_size(height, width, self.size)
        return sampling.long_side_size(height, width, self.size)

    def output_size(self, height, width, num_frames):
        return (self.size, self.size) if self.pad else self.content_size(height, width, num_frames)


@dataclass(frozen=True)
class FixedTimesPolicy(SamplingPolicy):
    """Explicit frame times (any order, repeats allowed) with another policy's frame size."""

    name: str = "fixed"
    base: SamplingPolicy = field(default_factory=Salmonn2Policy)
    times: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.times:
            raise ConfigError("fixed frame times: at least one time is needed")
        if any(not t >= 0 for t in self.times):
            raise ConfigError(f"fixed frame times must be >= 0, got {min(self.times)}")
        object.__setattr__(self, "name", f"{self.base.name}@times")
        object.__setattr__(self, "pad_value", self.base.pad_value)

    def frame_times(self, duration_s, source_fps, num_source_frames=None):
        if max(self.times) > duration_s + 1e-6:
            raise ValueError(f"frame time {max(self.times):.3f} s is past the end ({duration_s:.3f} s)")
        return list(self.times)

    def content_size(self, height, width, num_frames):
        return self.base.content_size(height, width, num_frames)

    def output_size(self, height, width, num_frames):
        return self.base.output_size(height, width, num_frames)

    def describe(self) -> str:
        return f"{self.base.describe()} at {len(self.times)} explicit times"


def _qwen_vl() -> QwenPolicy:
    # qwen-vl-utils defaults for Qwen2/2.5-VL: 2 fps, 128..768 tokens of 28x28 per frame, a
    # total of 90 % of a 128K-token context.
    return QwenPolicy(
        name="qwen-vl", max_pixels=sampling.QWEN_VIDEO_MAX_PIXELS, total_pixels=int(128_000 * 28 * 28 * 0.9)
    )


def _omni_paper() -> QwenPolicy:
    # AVoCaDO as its paper (App. C) and scripts state it: 25,600 video tokens of 28x28 in all.
    return QwenPolicy(name="omni-paper", total_pixels=25_600 * 28 * 28)


POLICIES = {
    "salmonn2": Salmonn2Policy,
    "salmonn2-plus": Salmonn2PlusPolicy,
    "omni": QwenPolicy,
    "omni-paper": _omni_paper,
    "qwen-vl": _qwen_vl,
    "tarsier2": Tarsier2Policy,
    "videollama2": VideoLLaMA2Policy,
}

POLICY_HELP = {  # one line each for ``--frames`` help (a token is a 28x28-pixel patch)
    "salmonn2": "video-SALMONN 2: 1 fps, <=110 frames, short side <=384",
    "salmonn2-plus": "video-SALMONN 2+: every 0.1 s, 16-768 frames, 61,250 px/frame (more if fewer frames)",
    "omni": "Qwen2.5-Omni/AVoCaDO as run: 2 fps, <=512 tokens/frame, 115,200 total",
    "omni-paper": "AVoCaDO as its paper states: 2 fps, <=512 tokens/frame, 25,600 total",
    "qwen-vl": "Qwen2/2.5-VL: 2 fps, <=768 tokens/frame (qwen-vl-utils)",
    "tarsier2": "Tarsier2: 16 uniform frames incl. ends, <=460,800 px",
    "videollama2": "VideoLLaMA 2: 16 segment middles, short side 384 (pad=True: padded squares)",
}


def get_policy(name: str | SamplingPolicy, **overrides) -> SamplingPolicy:
    """The policy called ``name`` with ``overrides`` applied (None values are ignored).

    >>> get_policy("salmonn2", max_frames=32).max_frames
    32
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(name, SamplingPolicy):
        policy = name
    else:
        factory = POLICIES.get(str(name).lower())
        if factory is None:
            raise ConfigError(f"unknown frame policy {name!r} (choose from {', '.join(POLICIES)})")
        policy = factory()
    if not overrides:
        return policy
    settable = {f.name for f in dataclasses.fields(policy) if f.init and f.name not in ("name", "base", "times")}
    unknown = sorted(set(overrides) - settable)
    if unknown:
        raise ConfigError(f"policy {policy.name} has no setting {', '.join(unknown)} (settings: {', '.join(sorted(settable))})")
    return dataclasses.replace(policy, **overrides)
