"""Caption many videos with one captioner: inputs -> batches -> captions.jsonl (resumable).

One output row per (video, sample), appended and flushed as soon as its batch finishes::

    {"id", "video", "caption", "model", "generation": {...}, "seconds", "error", "sample"}

Resume: rows already in the output file are skipped, keyed by ``(id, sample)``. Rows that
ended in an error are *retried*: at start-up they are dropped from the file (an atomic
rewrite) and their items are captioned again, so the file holds one row per key. A video that
cannot be decoded, an input that does not exist, a dataset row whose media path leads outside
its folder, or a batch whose generation fails becomes rows with ``"error"`` set to a one-line
cause, and the run goes on. While the model generates one batch, a worker thread decodes the
next (PyAV releases the GIL while decoding).

One writer per output: the run holds an exclusive lock on the captions file
(:class:`avcap.data.lock.OutputLock`), so a second process on the same ``--out`` stops at once
instead of writing duplicate rows. A resume must use the settings the file was written with
(model, prompt, every generation field, frame policy, muted audio): rows made with other
settings are refused with the first differing setting named, since one file must not mix
two experiments; ``force_new`` moves the old file aside and starts a new one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from avcap.errors import AvcapError, ConfigError
from avcap.media.files import VIDEO_EXTENSIONS, find_videos
from avcap.models.base import DEFAULT_PROMPT, GenerationConfig

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
    error: str | None = None  # known before decoding (missing input, path outside the dataset folder)
    image: str | None = None  # a still image instead of a video (families that take images)
    use_audio: bool = True  # false: visual only, as the row's "use_audio" says
    timestamps: tuple[float, float] | None = None  # caption this segment of the video
    prefix: str | None = None  # the caption is forced to start with this text


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
    # Start a new output file even if the existing one was written with other settings (the old
    # file is renamed to NAME.<time>.bak, never deleted).
    force_new: bool = False

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
    failures: list[tuple[str, str]] = field(default_factory=list)  # (id, one-line cause) of this run
    moved_aside: Path | None = None  # the old file, when force_new moved it
    audit_warnings: list[str] = field(default_factory=list)  # modality audit problems of the new rows
    first_row_s: float | None = None  # seconds from the start to the first new row (start-up cost)


def prompt_presets() -> dict[str, str]:
    """Named prompts for ``--prompt-preset``: the papers' own instructions."""
    from avcap.models.omni import AVOCADO_PROMPT
    from avcap.models.salmonn2.captioner import PLUS_PROMPT, V1_PROMPT
    from avcap.models.vl import PROMPT_PRESETS

    return {"default": DEFAULT_PROMPT, "salmonn2": PLUS_PROMPT, "salmonn2-v1": V1_PROMPT, "avocado": AVOCADO_PROMPT,
            **PROMPT_PRESETS}


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


def collect_items(inputs: Iterable[str | Path], media_root: str | Path | None = None,
                  allow_outside_paths: bool = False) -> tuple[list[CaptionItem], list[str]]:
    """Expand files, folders (recursive, video extensions) and dataset files into items.

    Returns the items and warnings (dataset rows that failed validation). A video given
    directly is identified by its file name, one found in a folder by its path relative to
    that folder, a dataset row by its ``id``; two items with one id are a ConfigError. An input
    that cannot be used (no such path, an unreadable dataset file, a dataset row whose media lie
    outside the dataset's folder or ``media_root``) becomes an item with its ``error`` set, so
    the run records it and goes on. Dataset rows read through :func:`avcap.data.load_dataset`.
    """
    from avcap.data import OutsidePathError, load_dataset
    from avcap.errors import DataError

    items: list[CaptionItem] = []
    warnings: list[str] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = find_videos(path)
            if not found:
                warnings.append(f"{path}: no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
            items += [CaptionItem(id=p.relative_to(path).as_posix(), video=str(p)) for p in found]
        elif path.suffix.lower() in DATASET_EXTENSIONS:
            try:
                dataset = load_dataset(path, media_root=media_root, allow_outside_paths=allow_outside_paths)
            except DataError as err:  # the file itself cannot be read: one failed item, the rest go on
                items.append(CaptionItem(id=path.name, video=None, error=one_line(err)))
                continue
            for err in dataset.errors:
                if isinstance(err, OutsidePathError):
                    items.append(CaptionItem(id=err.row_id, video=None, error=one_line(err)))
                else:
                    warnings.append(str(err))
            for row in dataset.rows:
                items.append(CaptionItem(id=row.id, video=row.video, audio=row.audio, prompt=row.prompt,
                                         image=row.image, use_audio=row.use_audio, timestamps=row.timestamps,
                                         prefix=row.prefix))
        else:
            # A missing or unreadable file is still an item: recorded with its error, like a corrupt one.
            error = None if path.exists() else f"{path}: no such file or folder"
            items.append(CaptionItem(id=path.name, video=str(path), error=error))
    seen: dict[str, str] = {}
    for item in items:
        source = item.video or item.audio or item.image or item.error
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
    """Groups of up to ``size`` items sharing one prompt and prefix, in input order (a batch has one of each)."""
    open_groups: dict[tuple, list[CaptionItem]] = {}
    for item in items:
        key = (prompt_of(item), item.prefix)
        group = open_groups.setdefault(key, [])
        group.append(item)
        if len(group) == size:
            yield key[0], open_groups.pop(key)
    for (prompt, _), group in open_groups.items():
        yield prompt, group


def settings_conflict(rows: Iterable[dict], model: str, record_of: Callable[[str], dict],
                      prompt_for: dict[str, str]) -> str | None:
    """The first setting in which finished ``rows`` differ from this run, as one line, or None.

    ``record_of(prompt)`` is this run's generation record; ``prompt_for`` maps an item id to the
    prompt it gets now (a dataset row's own prompt may differ per item). Keys a row lacks were
    not recorded by older versions and are not compared, except ``audio`` (absent = not muted).
    """
    new = record_of("")
    for row in rows:
        if str(row.get("model")) != model:
            return f"model: the file has {row.get('model')}, this run {model}"
        old = row.get("generation") or {}
        for key, value in new.items():
            if key == "prompt":
                continue
            before = old.get(key, "on" if key == "audio" else value)
            if before != value:
                return f"{key}: the file has {before!r}, this run {value!r}"
        if "audio" not in new and old.get("audio") not in (None, "on"):
            return f"audio: the file has {old['audio']!r}, this run 'on'"
        prompt = prompt_for.get(str(row.get("id")))
        if prompt is not None and "prompt" in old and old["prompt"] != prompt:
            return f"prompt of '{row.get('id')}': the file has {old['prompt']!r}, this run {prompt!r}"
    return None


def _move_aside(path: Path) -> Path | None:
    if not path.exists() or path.stat().st_size == 0:
        return None
    aside = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
    path.rename(aside)
    return aside


@dataclass
class CaptionerInfo:
    """What a run needs to know of its captioner besides captioning: picklable, so the Ray engine's
    driver learns it from a worker without loading the model itself."""

    name: str
    frame_policy: object  # a policy name or a SamplingPolicy
    default_prompt: str | None
    default_max_new_tokens: int
    input_options: dict
    hears_audio: bool


def captioner_info(captioner) -> CaptionerInfo:
    from avcap.models.audit import hears_audio

    return CaptionerInfo(name=captioner.name, frame_policy=captioner.frame_policy,
                         default_prompt=getattr(captioner, "default_prompt", None),
                         default_max_new_tokens=getattr(captioner, "default_max_new_tokens", 2048),
                         input_options=dict(getattr(captioner, "input_options", dict)()),
                         hears_audio=hears_audio(captioner))


@dataclass
class RunPlan:
    """The settings every row of a run records, fixed before the first video is decoded (both engines)."""

    info: CaptionerInfo
    config: CaptionRunConfig
    policy: object  # the SamplingPolicy clips are decoded with
    generation: GenerationConfig  # max_new_tokens resolved to a number

    @classmethod
    def make(cls, info: CaptionerInfo, config: CaptionRunConfig) -> RunPlan:
        from avcap.media import get_policy

        gen = config.generation
        if gen.max_new_tokens is None:  # the captioner's own limit, recorded as a number
            gen = dataclasses.replace(gen, max_new_tokens=info.default_max_new_tokens)
        return cls(info=info, config=config, policy=get_policy(config.frames or info.frame_policy), generation=gen)

    @property
    def n_samples(self) -> int:
        return self.generation.num_samples

    def prompt_of(self, item: CaptionItem) -> str:
        return self.config.prompt or item.prompt or self.info.default_prompt or DEFAULT_PROMPT

    def generation_record(self, prompt: str) -> dict:
        record = {**dataclasses.asdict(self.generation), "frames": self.policy.label(), "prompt": prompt}
        record.update(self.info.input_options)  # e.g. interleave / positions (salmonn2)
        if self.config.mute_audio:
            record["audio"] = "muted"
        return record

    def rows(self, result: CaptionResult, done: set) -> list[dict]:
        """The output rows of one finished item (one per sample not yet in the file)."""
        item = result.item
        audit = None
        if result.media is not None:
            from avcap.models.audit import row_audit

            audit = row_audit(result.media, result.model or {}, self.info.hears_audio)
        return [{"id": item.id, "video": item.video, "caption": result.captions[s] if result.captions else None,
                 "model": self.info.name, "generation": self.generation_record(result.prompt),
                 "seconds": round(result.seconds, 3), "error": result.error, "sample": s, "audit": audit}
                for s in range(self.n_samples) if (item.id, s) not in done]


@dataclass
class Decoded:
    item: CaptionItem
    clip: object | None  # Clip
    error: str | None
    seconds: float


@dataclass
class CaptionResult:
    item: CaptionItem
    prompt: str
    captions: list[str] | None
    error: str | None
    seconds: float
    media: dict | None = None  # clip_audit of the decoded clip
    model: dict | None = None  # the captioner's input_audit entry


def decode_item(item: CaptionItem, policy, mute_audio: bool = False) -> Decoded:
    """Decode one item's media with ``policy``; a bad file becomes an error, never an exception."""
    from avcap.media import load_media

    t0 = time.perf_counter()
    if item.error:
        return Decoded(item, None, item.error, 0.0)
    try:
        # a video (+ audio track), an audio-only row (ASR / audio captioning) or an image row
        clip = load_media(video=item.video, audio=item.audio, image=item.image, policy=policy,
                          use_audio=item.use_audio, segment=item.timestamps)
        if mute_audio:
            clip = clip.muted()
        return Decoded(item, clip, None, time.perf_counter() - t0)
    except Exception as err:  # a bad file must not stop the run
        return Decoded(item, None, one_line(err), time.perf_counter() - t0)


def caption_decoded(captioner, decoded: list[Decoded], plan: RunPlan, gen: GenerationConfig | None = None
                    ) -> list[CaptionResult]:
    """Caption decoded items that share one prompt and prefix (errors pass through as results)."""
    from avcap.media.audit import clip_audit

    gen = gen or plan.generation
    results = []
    good = []
    for d in decoded:
        prompt = plan.prompt_of(d.item)
        if d.error:
            results.append(CaptionResult(d.item, prompt, None, d.error, d.seconds))
        else:
            good.append(d)
    if good:
        prompt = plan.prompt_of(good[0].item)
        mute = plan.config.mute_audio
        _generate(captioner, good, prompt, gen, good[0].item.prefix, results,
                  lambda clip: clip_audit(clip, muted=mute))
    return results


def run_captioning(captioner, items: list[CaptionItem], config: CaptionRunConfig) -> RunSummary:
    """Caption ``items`` into ``config.out``; see the module docstring for locking, resume and errors."""
    from avcap.data.lock import OutputLock

    with OutputLock(config.out, what="captions file"):
        return _run_locked(captioner, items, config)


@dataclass
class OpenedRun:
    """The output file opened for appending, and what is left to do."""

    out: object  # JsonlAppender
    pending: list[CaptionItem]
    skipped: int
    moved_aside: Path | None


def open_run(plan: RunPlan, items: list[CaptionItem]) -> OpenedRun:
    """Move aside (``force_new``), drop error rows, refuse other settings, list what is left.

    The caller holds the output lock and closes ``out`` (a :class:`JsonlAppender`)."""
    from avcap.data import JsonlAppender

    config = plan.config
    moved_aside = _move_aside(config.out) if config.force_new else None
    _drop_error_rows(config.out)
    out = JsonlAppender(config.out).__enter__()
    try:
        conflict = settings_conflict(out.rows.values(), plan.info.name, plan.generation_record,
                                     {it.id: plan.prompt_of(it) for it in items})
        if conflict:
            raise ConfigError(f"{config.out} was written with other settings ({conflict}); re-run with the "
                              "file's settings, choose another --out, or pass --force-new to start a new file "
                              "(the old one is kept as .bak)")
    except BaseException:
        out.close()
        raise
    n = plan.n_samples
    missing = {it.id: sum((it.id, s) not in out.done for s in range(n)) for it in items}
    pending = [it for it in items if missing[it.id]]
    skipped = len(items) * n - sum(missing.values())
    return OpenedRun(out=out, pending=pending, skipped=skipped, moved_aside=moved_aside)


class RowWriter:
    """The one writer of a run: appends rows not yet done, counts them, collects failures and audits."""

    def __init__(self, out):
        self.out = out
        self.counts = {"captioned": 0, "failed": 0}
        self.failures: list[tuple[str, str]] = []
        self.audited: list[dict] = []  # id + audit of each new row, for the warning summary
        self.first_row_at: float | None = None

    def write(self, rows: list[dict]) -> None:
        failed_ids = []
        for row in rows:
            key = (row["id"], row.get("sample", 0))
            if key in self.out.done:
                continue
            self.out.append(row)
            if self.first_row_at is None:
                self.first_row_at = time.perf_counter()
            self.counts["failed" if row.get("error") else "captioned"] += 1
            if row.get("error"):
                if row["id"] not in failed_ids:
                    failed_ids.append(row["id"])
                    self.failures.append((row["id"], row["error"]))
            elif row.get("audit"):
                self.audited.append({"id": row["id"], "audit": row["audit"]})

    def summary(self, plan: RunPlan, total_items: int, opened: OpenedRun, start: float) -> RunSummary:
        from avcap.models.audit import audit_warnings

        return RunSummary(out=plan.config.out, total=total_items * plan.n_samples, skipped=opened.skipped,
                          seconds=time.perf_counter() - start, failures=self.failures,
                          moved_aside=opened.moved_aside, audit_warnings=audit_warnings(self.audited),
                          first_row_s=None if self.first_row_at is None else self.first_row_at - start, **self.counts)


def _run_locked(captioner, items: list[CaptionItem], config: CaptionRunConfig) -> RunSummary:
    start = time.perf_counter()
    plan = RunPlan.make(captioner_info(captioner), config)
    opened = open_run(plan, items)
    writer = RowWriter(opened.out)
    try:
        pending = opened.pending
        batches = list(_batches(pending, plan.prompt_of, config.batch_size))

        def decode(batch: list[CaptionItem]) -> list[Decoded]:
            return [decode_item(item, plan.policy, config.mute_audio) for item in batch]

        progress = _progress(config.progress, total=len(pending))
        with progress, ThreadPoolExecutor(max_workers=1) as pool:
            task = progress.add_task("captioning", total=len(pending))
            future = pool.submit(decode, batches[0][1]) if batches else None
            for index in range(len(batches)):
                decoded = future.result()
                if index + 1 < len(batches):
                    future = pool.submit(decode, batches[index + 1][1]) if config.prefetch else None
                gen = plan.generation
                batch_gen = gen if gen.seed is None else dataclasses.replace(gen, seed=gen.seed + index)
                for result in caption_decoded(captioner, decoded, plan, batch_gen):
                    writer.write(plan.rows(result, opened.out.done))
                progress.advance(task, len(decoded))
                if future is None and index + 1 < len(batches):
                    future = pool.submit(decode, batches[index + 1][1])
    finally:
        opened.out.close()
    return writer.summary(plan, len(items), opened, start)


def _generate(captioner, good: list[Decoded], prompt: str, gen: GenerationConfig, prefix: str | None,
              results: list[CaptionResult], media_audit) -> None:
    """Caption a batch; if it fails, retry one by one so only the failing item is marked."""
    from avcap.models.audit import model_audit

    t0 = time.perf_counter()
    try:
        extra = {"prefix": prefix} if prefix else {}  # a row's forced start of the answer
        captions = captioner.caption([d.clip for d in good], prompt, gen, **extra)
        audits = model_audit(captioner, len(good))
    except Exception as err:
        if len(good) == 1:
            d = good[0]
            results.append(CaptionResult(d.item, prompt, None, one_line(err), d.seconds + time.perf_counter() - t0))
            return
        for one in good:
            _generate(captioner, [one], prompt, gen, prefix, results, media_audit)
        return
    share = (time.perf_counter() - t0) / len(good)
    n = gen.num_samples
    for k, d in enumerate(good):
        results.append(CaptionResult(d.item, prompt, captions[k * n:(k + 1) * n], None, d.seconds + share,
                                     media=media_audit(d.clip), model=audits[k]))


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
