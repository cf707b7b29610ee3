"""Caption many videos with one captioner: inputs -> batches -> captions.jsonl (resumable).

One output row per (video, sample), appended and flushed as soon as its batch finishes::

    {"id", "video", "caption", "model", "generation": {...}, "seconds", "error", "sample"}

Resume: rows already in the output file are skipped, keyed by ``(id, sample)``. Rows that
ended in an error are *retried*: at start-up they are dropped from the file (an atomic
rewrite) and their items are captioned again, so the file holds one row per key. A video that
cannot be decoded, or a batch whose generation fails, becomes rows with ``"error"`` set to a
one-line cause, and the run goes on. While the model generates one batch, a worker thread
decodes the next (PyAV releases the GIL while decoding).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from avcap.errors import AvcapError, ConfigError
from avcap.models.base import DEFAULT_PROMPT, GenerationConfig

VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".ts",
                              ".wmv", ".3gp"})
DATASET_EXTENSIONS = frozenset({".json", ".jsonl"})


@dataclass
class CaptionItem:
    """One video (or, for a dataset row with only ``audio``, one audio file) to caption.

    ``prompt`` (from a dataset row) is used unless ``--prompt`` is given.
    """

    id: str
    video: str | None
    audio: str | None = None
    prompt: str | None = None


@dataclass
class CaptionRunConfig:
    out: Path
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    prompt: str | None = None  # overrides dataset prompts and the model's default prompt
    frames: str | None = None  # media sampling policy; None = the captioner's frame_policy
    batch_size: int = 1
    prefetch: bool = True
    progress: bool = True
    # Replace every clip's sound by silence of the same length: the "audio off" ablation
    # (the model still gets its audio tokens, as it does for a video without an audio track).
    mute_audio: bool = False

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if self.prompt is not None and not self.prompt.strip():
            raise ConfigError("prompt must not be empty")


@dataclass
class RunSummary:
    out: Path
    total: int  # (item, sample) keys asked for
    skipped: int  # already in the file
    captioned: int
    failed: int
    seconds: float


def prompt_presets() -> dict[str, str]:
    """Named prompts for ``--prompt-preset``: the papers' own instructions."""
    from avcap.models.omni import AVOCADO_PROMPT
    from avcap.models.vl import PROMPT_PRESETS

    return {"default": DEFAULT_PROMPT, "avocado": AVOCADO_PROMPT, **PROMPT_PRESETS}


def resolve_prompt(prompt: str | None, preset: str | None) -> str | None:
    """``--prompt`` text or a ``--prompt-preset`` name (not both); None leaves it to the data/model."""
    if prompt is not None and preset is not None:
        raise ConfigError("give --prompt or --prompt-preset, not both")
    if preset is None:
        return prompt
    presets = prompt_presets()
    if preset not in presets:
        raise ConfigError(f"unknown prompt preset {preset!r} (choose from {', '.join(presets)})")
    return presets[preset]


def one_line(err: BaseException) -> str:
    text = str(err) if isinstance(err, AvcapError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())[:500] or type(err).__name__


def collect_items(inputs: Iterable[str | Path]) -> tuple[list[CaptionItem], list[str]]:
    """Expand files, folders (recursive, video extensions) and dataset files into items.

    Returns the items and warnings (dataset rows that failed validation). A video given
    directly is identified by its file name, one found in a folder by its path relative to
    that folder, a dataset row by its ``id``; two items with one id are a ConfigError.
    """
    from avcap.data import load_dataset

    items: list[CaptionItem] = []
    warnings: list[str] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                warnings.append(f"{path}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
            items += [CaptionItem(id=p.relative_to(path).as_posix(), video=str(p)) for p in found]
        elif path.suffix.lower() in DATASET_EXTENSIONS:
            dataset = load_dataset(path)
            warnings += [str(err) for err in dataset.errors]
            for row in dataset.rows:
                items.append(CaptionItem(id=row.id, video=row.video, audio=row.audio, prompt=row.prompt))
        elif path.exists() or path.suffix.lower() in VIDEO_EXTENSIONS:
            # A missing video is still an item: it is recorded with its error, like a corrupt one.
            items.append(CaptionItem(id=path.name, video=str(path)))
        else:
            raise ConfigError(f"{path}: no such file or folder")
    seen: dict[str, str] = {}
    for item in items:
        source = item.video or item.audio
        if item.id in seen and seen[item.id] != source:
            raise ConfigError(f"two inputs share the id '{item.id}': {seen[item.id]} and {source}; "
                              "pass their folder or a dataset file with ids instead")
        seen[item.id] = source
    unique = {item.id: item for item in items}
    return list(unique.values()), warnings


def _drop_error_rows(path: Path) -> int:
    """Rewrite ``path`` without its error rows (atomically), so they are retried. Returns how many."""
    import json

    from avcap.data import atomic_write_text, iter_jsonl

    if not path.exists():
        return 0
    rows = [row for _, row in iter_jsonl(path)]
    kept = [row for row in rows if not row.get("error")]
    if len(kept) != len(rows):
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return len(rows) - len(kept)


def _batches(items: list[CaptionItem], prompt_of: Callable[[CaptionItem], str], size: int):
    """Groups of up to ``size`` items sharing one prompt, in input order (a batch has one prompt)."""
    open_groups: dict[str, list[CaptionItem]] = {}
    for item in items:
        group = open_groups.setdefault(prompt_of(item), [])
        group.append(item)
        if len(group) == size:
            yield prompt_of(item), open_groups.pop(prompt_of(item))
    yield from open_groups.items()


def run_captioning(captioner, items: list[CaptionItem], config: CaptionRunConfig) -> RunSummary:
    """Caption ``items`` into ``config.out``; see the module docstring for resume and errors."""
    from avcap.data import JsonlAppender
    from avcap.media import get_policy, load_audio_clip, load_clip

    start = time.perf_counter()
    policy = get_policy(config.frames or captioner.frame_policy)
    gen = config.generation
    n_samples = gen.num_samples
    default_prompt = config.prompt or getattr(captioner, "default_prompt", None) or DEFAULT_PROMPT

    def prompt_of(item: CaptionItem) -> str:
        return config.prompt or item.prompt or default_prompt

    def generation_record(prompt: str) -> dict:
        record = {**dataclasses.asdict(gen), "frames": policy.name, "prompt": prompt}
        if config.mute_audio:
            record["audio"] = "muted"
        return record

    _drop_error_rows(config.out)
    counts = {"captioned": 0, "failed": 0}
    with JsonlAppender(config.out) as out:
        others = sorted({str(row.get("model")) for row in out.rows.values()} - {captioner.name})
        if others:
            raise ConfigError(f"{config.out} holds captions by {', '.join(others)}, not {captioner.name}; "
                              "resume with the same --model or choose another --out")
        missing = {it.id: sum((it.id, s) not in out.done for s in range(n_samples)) for it in items}
        pending = [it for it in items if missing[it.id]]
        skipped = len(items) * n_samples - sum(missing.values())

        def write(item: CaptionItem, prompt: str, captions: list[str] | None, error: str | None, seconds: float):
            for s in range(n_samples):
                if (item.id, s) in out.done:
                    continue
                out.append({"id": item.id, "video": item.video, "caption": captions[s] if captions else None,
                            "model": captioner.name, "generation": generation_record(prompt),
                            "seconds": round(seconds, 3), "error": error, "sample": s})
                counts["failed" if error else "captioned"] += 1

        def decode(batch: list[CaptionItem]):
            decoded = []
            for item in batch:
                t0 = time.perf_counter()
                try:
                    if item.video is None:  # an audio-only dataset row (ASR / audio captioning)
                        clip = load_audio_clip(item.audio)
                    else:
                        clip = load_clip(item.video, policy=policy, audio_path=item.audio)
                    if config.mute_audio:
                        clip = clip.muted()
                    decoded.append((item, clip, None, time.perf_counter() - t0))
                except Exception as err:  # a bad file must not stop the run
                    decoded.append((item, None, one_line(err), time.perf_counter() - t0))
            return decoded

        batches = list(_batches(pending, prompt_of, config.batch_size))
        progress = _progress(config.progress, total=len(pending))
        with progress, ThreadPoolExecutor(max_workers=1) as pool:
            task = progress.add_task("captioning", total=len(pending))
            future = pool.submit(decode, batches[0][1]) if batches else None
            for index, (prompt, _) in enumerate(batches):
                decoded = future.result()
                if index + 1 < len(batches):
                    future = pool.submit(decode, batches[index + 1][1]) if config.prefetch else None
                for item, _, error, seconds in decoded:
                    if error:
                        write(item, prompt, None, error, seconds)
                good = [(item, clip, seconds) for item, clip, error, seconds in decoded if not error]
                batch_gen = gen if gen.seed is None else dataclasses.replace(gen, seed=gen.seed + index)
                _generate(captioner, good, prompt, batch_gen, write)
                progress.advance(task, len(decoded))
                if future is None and index + 1 < len(batches):
                    future = pool.submit(decode, batches[index + 1][1])
    return RunSummary(out=config.out, total=len(items) * n_samples, skipped=skipped, seconds=time.perf_counter() - start,
                      **counts)


def _generate(captioner, good, prompt: str, gen: GenerationConfig, write) -> None:
    """Caption a batch; if it fails, retry one by one so only the failing item is marked."""
    if not good:
        return
    t0 = time.perf_counter()
    try:
        captions = captioner.caption([clip for _, clip, _ in good], prompt, gen)
    except Exception as err:
        if len(good) == 1:
            item, _, seconds = good[0]
            write(item, prompt, None, one_line(err), seconds + time.perf_counter() - t0)
            return
        for one in good:
            _generate(captioner, [one], prompt, gen, write)
        return
    share = (time.perf_counter() - t0) / len(good)
    n = gen.num_samples
    for k, (item, _, seconds) in enumerate(good):
        write(item, prompt, captions[k * n:(k + 1) * n], None, seconds + share)


def _progress(enabled: bool, total: int):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled or total == 0, transient=False)
