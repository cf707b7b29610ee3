"""Event scripts of the synthetic world: what happens, when, to whom — the exact ground truth.

A :class:`Script` is plain data (JSON round-trips exactly): object tracks that the frame
renderer draws and a time-ordered list of :class:`Event`\\ s that the audio renderer plays and
the caption generator describes. All times are frame indices, so a sound tied to a visual event
starts on exactly the sample of the frame that shows it. ``avcap.synth.sampler.sample_script``
draws scripts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from avcap.errors import ConfigError, DataError
from avcap.synth import lexicon as lx

SCRIPT_VERSION = 1


@dataclass(frozen=True)
class WorldConfig:
    """How scripts are drawn. Ranges follow issue 7: 4-12 s, 128-256 px, 8-24 fps."""

    min_duration_s: float = 4.0
    max_duration_s: float = 8.0
    size: int = 128  # square frames, pixels
    fps: int = 12
    speech: bool = False  # allow spoken words (needs espeak-ng when rendering)
    max_events: int = 9  # keeps ground-truth captions under ~80 words
    max_objects: int = 3  # on screen at once

    def __post_init__(self) -> None:
        if not 1.0 <= self.min_duration_s <= self.max_duration_s <= 60.0:
            raise ConfigError(f"durations must satisfy 1 <= min ({self.min_duration_s}) <= max "
                              f"({self.max_duration_s}) <= 60 seconds")
        if not (isinstance(self.size, int) and 64 <= self.size <= 512 and self.size % 2 == 0):
            raise ConfigError(f"size must be an even integer in [64, 512], got {self.size!r}")
        if not (isinstance(self.fps, int) and 4 <= self.fps <= 60):
            raise ConfigError(f"fps must be an integer in [4, 60], got {self.fps!r}")
        if not 1 <= self.max_events <= 30:
            raise ConfigError(f"max_events must be in [1, 30], got {self.max_events}")
        if not 1 <= self.max_objects <= 4:
            raise ConfigError(f"max_objects must be in [1, 4], got {self.max_objects}")


@dataclass(frozen=True)
class Event:
    """One atomic event. ``args`` holds the kind's attributes (see ``language.event_sentence``)."""

    kind: str
    frame: int
    args: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self, fps: int) -> dict:
        return {"kind": self.kind, "frame": self.frame, "t": round(self.frame / fps, 3), **self.args}


@dataclass(frozen=True)
class ObjectTrack:
    """A shape's life: visible on frames [appear, vanish), moving along ``path`` keyframes."""

    id: int
    shape: str
    radius: float  # normalised to the frame side
    appear: int
    vanish: int | None
    path: tuple[tuple[int, float, float], ...]  # (frame, x, y), piecewise linear, held at the ends
    colours: tuple[tuple[int, str], ...]  # (frame, colour) from that frame on

    def visible(self, frame: int) -> bool:
        return self.appear <= frame and (self.vanish is None or frame < self.vanish)

    def position(self, frame: int) -> tuple[float, float]:
        f0, x0, y0 = self.path[0]
        if frame <= f0:
            return x0, y0
        for f1, x1, y1 in self.path[1:]:
            if frame <= f1:
                w = (frame - f0) / (f1 - f0) if f1 > f0 else 1.0
                return x0 + w * (x1 - x0), y0 + w * (y1 - y0)
            f0, x0, y0 = f1, x1, y1
        return x0, y0

    def colour(self, frame: int) -> str:
        current = self.colours[0][1]
        for f, c in self.colours:
            if f <= frame:
                current = c
        return current

    def to_dict(self) -> dict:
        return {"id": self.id, "shape": self.shape, "radius": self.radius, "appear": self.appear,
                "vanish": self.vanish, "path": [list(p) for p in self.path],
                "colours": [list(c) for c in self.colours]}


@dataclass(frozen=True)
class Script:
    """A whole video's ground truth. ``speech`` names the engine that voices ``say`` events."""

    seed: tuple[int, ...]
    fps: int
    n_frames: int
    size: int
    speech: str | None
    objects: tuple[ObjectTrack, ...]
    events: tuple[Event, ...]
    version: int = SCRIPT_VERSION

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def event_time_s(self, event: Event) -> float:
        return event.frame / self.fps

    def to_dict(self) -> dict:
        return {"version": self.version, "seed": list(self.seed), "fps": self.fps, "n_frames": self.n_frames,
                "duration_s": round(self.duration_s, 3), "size": self.size, "speech": self.speech,
                "objects": [o.to_dict() for o in self.objects],
                "events": [e.to_dict(self.fps) for e in self.events]}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): the basis of :meth:`hash`."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping) -> Script:
        """Rebuild a script from :meth:`to_dict` output; malformed input raises DataError."""
        try:
            objects = tuple(
                ObjectTrack(id=int(o["id"]), shape=str(o["shape"]), radius=float(o["radius"]),
                            appear=int(o["appear"]), vanish=None if o["vanish"] is None else int(o["vanish"]),
                            path=tuple((int(f), float(x), float(y)) for f, x, y in o["path"]),
                            colours=tuple((int(f), str(c)) for f, c in o["colours"]))
                for o in data["objects"])
            events = tuple(
                Event(kind=str(e["kind"]), frame=int(e["frame"]),
                      args={k: v for k, v in e.items() if k not in ("kind", "frame", "t")})
                for e in data["events"])
            script = cls(seed=tuple(int(s) for s in data["seed"]), fps=int(data["fps"]),
                         n_frames=int(data["n_frames"]), size=int(data["size"]), speech=data.get("speech"),
                         objects=objects, events=events, version=int(data.get("version", SCRIPT_VERSION)))
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"synthetic script: malformed ({type(err).__name__}: {err})") from err
        if script.version > SCRIPT_VERSION:
            raise DataError(f"synthetic script: version {script.version} is newer than this avcap "
                            f"understands ({SCRIPT_VERSION})")
        for obj in script.objects:
            if obj.shape not in lx.SHAPES or not obj.path or not obj.colours:
                raise DataError(f"synthetic script: object {obj.id} has an unknown shape or an empty track")
        for ev in script.events:
            if ev.kind not in lx.EVENT_KINDS:
                raise DataError(f"synthetic script: unknown event kind {ev.kind!r} at frame {ev.frame}")
        return script


def script_from(obj: Script | Mapping) -> Script:
    """Accept a Script, its dict, or a dataset row carrying one under ``script``."""
    if isinstance(obj, Script):
        return obj
    if isinstance(obj, Mapping):
        return Script.from_dict(obj["script"] if "script" in obj else obj)
    raise DataError(f"synthetic script: expected a Script or a mapping, got {type(obj).__name__}")

