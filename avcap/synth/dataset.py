"""Write a synthetic dataset in the standard row format: ``OUT/videos/*.mp4`` + ``OUT/train.json``.

Each row is a video-SALMONN 2 row (``id``, ``video``, ``conversations`` with the prompt and the
ground-truth caption, ``events``) plus ``script`` (the exact event script), ``script_hash`` and
``qa``. Scripts are drawn from ``(seed, index)``, so the same seed gives byte-identical JSON.
Videos are rendered in worker processes; a video whose embedded tag matches its script and
renderer is kept, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avcap.data.jsonl import atomic_write_json, atomic_write_text
from avcap.errors import ConfigError
from avcap.synth.audio import espeak_available, espeak_version
from avcap.synth.language import DEFAULT_PROMPT, atomic_events, caption_from_script, caption_vocabulary
from avcap.synth.qa import qa_items
from avcap.synth.render import RENDER_VERSION, read_video_tag, video_tag, write_video
from avcap.synth.sampler import sample_script
from avcap.synth.world import Script, WorldConfig


@dataclass(frozen=True)
class DatasetConfig:
    """What ``avcap synth dataset`` writes."""

    out: Path
    n: int = 2000  # videos
    seed: int = 0
    world: WorldConfig = field(default_factory=WorldConfig)
    name: str = "train.json"  # .json (a list) or .jsonl (one row per line)
    prompt: str = DEFAULT_PROMPT
    qa_per_video: int = 3
    workers: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.n < 1:
            raise ConfigError(f"n must be >= 1, got {self.n}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not (self.name.endswith(".json") or self.name.endswith(".jsonl")) or "/" in self.name:
            raise ConfigError(f"name must be a file name ending in .json or .jsonl, got {self.name!r}")
        if not self.prompt.strip():
            raise ConfigError("prompt must not be empty")
        if not 0 <= self.qa_per_video <= 10:
            raise ConfigError(f"qa_per_video must be in [0, 10], got {self.qa_per_video}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class DatasetSummary:
    path: Path
    n_rendered: int
    n_kept: int
    seconds: float
    speech: str | None


def video_id(seed: int, index: int) -> str:
    return f"synth_s{seed}_{index:05d}"


def make_row(script: Script, vid: str, prompt: str = DEFAULT_PROMPT, qa_per_video: int = 3) -> dict:
    """One dataset row for ``script`` (video at ``videos/<vid>.mp4`` relative to the dataset file)."""
    return {
        "id": vid,
        "video": f"videos/{vid}.mp4",
        "conversations": [{"from": "human", "value": f"<video>\n{prompt}"},
                          {"from": "gpt", "value": caption_from_script(script)}],
        "events": atomic_events(script),
        "qa": qa_items(script, qa_per_video),
        "script_hash": script.hash(),
        "script": script.to_dict(),
    }


def _render_one(task: tuple[dict, str]) -> bool:
    """Render one video unless an identical one is there; True if it was rendered."""
    script = Script.from_dict(task[0])
    path = Path(task[1])
    if path.exists() and read_video_tag(path) == video_tag(script):
        return False
    write_video(script, path)
    return True


def build_dataset(config: DatasetConfig, progress: bool = True) -> DatasetSummary:
    """Write the dataset described by ``config``; returns what was rendered and kept."""
    from tqdm import tqdm

    if config.world.speech and not espeak_available():
        raise ConfigError("speech needs espeak-ng: install it (apt-get install espeak-ng) or use --no-speech")
    start = time.perf_counter()
    scripts = [sample_script((config.seed, i), config.world) for i in range(config.n)]
    ids = [video_id(config.seed, i) for i in range(config.n)]
    tasks = [(s.to_dict(), str(config.out / "videos" / f"{vid}.mp4")) for s, vid in zip(scripts, ids)]
    rendered = 0
    with tqdm(total=config.n, unit="video", desc="synth", disable=not progress) as bar:
        if config.workers == 1:
            results = map(_render_one, tasks)
            for done in results:
                rendered += done
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=config.workers) as pool:
                for done in pool.map(_render_one, tasks, chunksize=4):
                    rendered += done
                    bar.update(1)
    rows = [make_row(s, vid, config.prompt, config.qa_per_video) for s, vid in zip(scripts, ids)]
    path = config.out / config.name
    if config.name.endswith(".jsonl"):
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        atomic_write_json(path, rows)
    speech = "espeak-ng" if config.world.speech else None
    info = {"seed": config.seed, "n": config.n, "world": asdict(config.world), "prompt": config.prompt,
            "speech": speech, "speech_version": espeak_version() if speech else None,
            "render_version": RENDER_VERSION, "caption_vocabulary_size": len(caption_vocabulary())}
    atomic_write_json(path.with_name(path.name.rsplit(".", 1)[0] + ".info.json"), info)
    return DatasetSummary(path=path, n_rendered=rendered, n_kept=config.n - rendered,
                          seconds=time.perf_counter() - start, speech=speech)
