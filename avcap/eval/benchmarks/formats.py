"""Each benchmark's published files, read into one list of ``BenchItem``s.

* ``salmonn2`` — the video-SALMONN 2 test set: rows ``video``, ``conversations``, ``events``
  (``avcap.data.load_dataset``); ``events`` are required: the protocol judges against them.
* ``dream1k`` — DREAM-1K jsonl: ``messages`` (the reference under the assistant part's
  ``reference``), ``dataset`` ("DREAM/<source>"), ``idx``, ``vid``, ``extra_info.events``.
* ``daily_omni`` — Daily-Omni ``qa.json``: a list of questions (``Question``, ``Choice``,
  ``Answer``, ``video_id``, ``Type``, ``video_category``, ``video_duration``), or AVoCaDO's
  ``grouped_data.json``: a list of videos, each with ``questions``.
* ``worldsense`` — ``worldsense_qa.json``: an object per video id with ``video_duration``,
  ``domain`` ... and ``task0`` .. ``taskN`` objects (``question``, ``candidates``, ``answer``,
  ``task_type``, ``task_domain``).
* ``ugc`` — UGC-VideoCap references: a folder of ``<video_id>.json`` with
  ``final_caption.caption_text`` (what the official ``eval_caption.py`` reads), or one JSON /
  JSONL file of such objects carrying ``video_id``.
* ``vdc`` — VDC ``detailed.jsonl``: one line per video, ``{video_id: [{question, answer, category}]}``.

A malformed row becomes a ``DataError`` naming ``file:line`` and the others load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avcap.data import load_dataset, read_records
from avcap.data.records import BOM
from avcap.errors import DataError
from avcap.eval.loaders import _gold, _options, load_benchmark

MAX_FILE_BYTES = 512 * 1024 * 1024  # a benchmark file larger than this is not one of these releases


@dataclass
class BenchItem:
    id: str  # the unit of scoring (a clip, or one question)
    video_key: str  # matched against caption rows: their id, then their video path, file name, stem
    group: str  # the bootstrap draws these (videos); every question of a video travels together
    video: str | None = None
    stratum: str | None = None  # DREAM-1K source
    reference: str | None = None
    events: list[str] | None = None
    question: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    answer: str | None = None  # gold letter
    qa: list[dict] = field(default_factory=list)  # VDC: [{question, answer, category}]
    meta: dict = field(default_factory=dict)  # breakdown fields (Type, duration, domain ...)
    source: str = ""


@dataclass
class BenchData:
    path: Path
    format: str
    items: list[BenchItem]
    errors: list[DataError]


def _read_json(path: Path, errors: list[DataError]) -> dict | list[dict]:
    """A file holding one JSON object (WorldSense's, keyed by video id), else a row file.

    Row files (a JSON list or JSONL) go through :func:`avcap.data.read_records`, the reader
    every command shares: a broken row is listed in ``errors`` and the others are kept.
    """
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {path.stat().st_size} bytes is too large for a benchmark file")
    text = path.read_bytes().removeprefix(BOM).decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # JSON Lines: one object per line
    records = read_records(path)
    errors.extend(records.errors)
    return [obj for _, obj in records.items]


def _unique(items: list[BenchItem], errors: list[DataError]) -> list[BenchItem]:
    seen: dict[str, str] = {}
    out = []
    for item in items:
        if item.id in seen:
            errors.append(DataError(f"{item.source}: duplicate id '{item.id}' (first at {seen[item.id]})"))
            continue
        seen[item.id] = item.source
        out.append(item)
    return out


def _salmonn2(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    ds = load_dataset(path, allow_outside_paths=True)  # scoring never opens the media
    items, errors = [], list(ds.errors)
    for row in ds.rows:
        if not row.events:
            errors.append(DataError(f"{row.source}: row has no 'events' (the test set's protocol judges against them)"))
            continue
        items.append(BenchItem(row.id, row.id, row.id, video=row.video, reference=row.reference,
                               events=list(row.events), source=row.source))
    return items, errors


def _dream1k(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    bench = load_benchmark(path)
    if bench.format != "dream1k":
        raise DataError(f"{path}: not DREAM-1K rows (no 'messages'); found the {bench.format} format")
    items = []
    for row in bench.rows:
        raw = row.raw if isinstance(row.raw, dict) else {}
        extra = raw.get("extra_info") if isinstance(raw.get("extra_info"), dict) else {}
        events = extra.get("events")
        # The scorer uses the given events whenever they are a list, an empty one included.
        given = [str(e) for e in events] if isinstance(events, list) else None
        source = str(raw.get("dataset") or "all")
        items.append(BenchItem(row.id, row.id, row.id, video=row.video, stratum=source, reference=row.reference,
                               events=given, meta={k: extra[k] for k in ("n_events", "n_shots", "n_subjects")
                                                   if k in extra}, source=row.source))
    return items, list(bench.errors)


def _qa_item(q: dict, video_key: str, n: int, parent: dict, where: str, meta_keys: tuple[str, ...]) -> BenchItem:
    low = {str(k).lower(): v for k, v in q.items()}
    question = low.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: question {n} has no 'question' text")
    options = _options(low.get("choice", low.get("choices", low.get("candidates", low.get("options")))), where)
    answer = _gold(low.get("answer"), options, where)
    qid = low.get("question_id", low.get("qid"))
    meta = {}
    for key in meta_keys:
        for src in (q, parent):
            if key in src and isinstance(src[key], (str, int, float)):
                meta[key] = str(src[key])
                break
    return BenchItem(str(qid) if qid is not None else f"{video_key}#{n}", video_key, video_key,
                     question=" ".join(question.split()), options=options, answer=answer, meta=meta, source=where)


def _daily_omni(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    items, errors = [], []
    data = _read_json(path, errors)
    if not isinstance(data, list):
        raise DataError(f"{path}: Daily-Omni's qa.json is a JSON list of questions")
    per_video: dict[str, int] = {}
    for pos, obj in enumerate(data, 1):
        where = f"{path}:{pos}"
        try:
            if not isinstance(obj, dict) or "video_id" not in obj:
                raise DataError(f"{where}: a Daily-Omni row needs a 'video_id'")
            vid = str(obj["video_id"])
            questions = obj["questions"] if isinstance(obj.get("questions"), list) else [obj]
            for q in questions:
                if not isinstance(q, dict):
                    raise DataError(f"{where}: a question is not an object")
                n = per_video[vid] = per_video.get(vid, -1) + 1
                items.append(_qa_item(q, vid, n, obj, where, ("Type", "video_category", "video_duration")))
        except DataError as err:
            errors.append(err)
    return _unique(items, errors), errors


def _worldsense(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    items, errors = [], []
    data = _read_json(path, errors)
    if not isinstance(data, dict):
        raise DataError(f"{path}: worldsense_qa.json is a JSON object keyed by video id")
    for key, video in data.items():
        where = f"{path}:{key}"
        if not isinstance(video, dict):
            errors.append(DataError(f"{where}: the entry of video {key} is not an object"))
            continue
        vid = str(video.get("video_id") or key)
        tasks = [(k, v) for k, v in video.items() if str(k).startswith("task") and isinstance(v, dict)]
        if not tasks:
            errors.append(DataError(f"{where}: video {key} has no task* questions"))
        for n, (task_key, q) in enumerate(tasks):
            try:
                item = _qa_item(q, vid, n, video, f"{where}.{task_key}",
                                ("task_type", "task_domain", "domain", "sub_category", "video_duration"))
                item.id = f"{vid}#{task_key}"
                items.append(item)
            except DataError as err:
                errors.append(err)
    return _unique(items, errors), errors


def _ugc_reference(obj: object, where: str) -> str:
    final = obj.get("final_caption") if isinstance(obj, dict) else None
    text = final.get("caption_text") if isinstance(final, dict) else None
    if text is None and isinstance(obj, dict):
        text = obj.get("caption_text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: no final_caption.caption_text (the reference caption)")
    return text.strip()


def _ugc(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    items, errors = [], []
    if path.is_dir():
        for file in sorted(path.glob("*.json")):
            try:
                obj = json.loads(file.read_text(encoding="utf-8", errors="replace"))
                vid = str(obj.get("video_id") or file.stem) if isinstance(obj, dict) else file.stem
                items.append(BenchItem(vid, vid, vid, reference=_ugc_reference(obj, str(file)), source=str(file)))
            except json.JSONDecodeError as err:
                errors.append(DataError(f"{file}:{err.lineno}: invalid JSON ({err.msg})"))
            except DataError as err:
                errors.append(err)
        if not items and not errors:
            raise DataError(f"{path}: no <video_id>.json reference files in this folder")
        return _unique(items, errors), errors
    data = _read_json(path, errors)
    if isinstance(data, dict) and ("final_caption" in data or "video_id" in data):
        data = [data]  # a single video's file
    rows = list(data.items()) if isinstance(data, dict) else [(None, r) for r in data]
    for pos, (key, obj) in enumerate(rows, 1):
        where = f"{path}:{key or pos}"
        try:
            vid = obj.get("video_id") if isinstance(obj, dict) else None
            vid = str(vid or key or "")
            if not vid:
                raise DataError(f"{where}: row has no 'video_id'")
            items.append(BenchItem(vid, vid, vid, reference=_ugc_reference(obj, where), source=where))
        except DataError as err:
            errors.append(err)
    return _unique(items, errors), errors


def _vdc(path: Path) -> tuple[list[BenchItem], list[DataError]]:
    records = read_records(path)
    items, errors = [], list(records.errors)
    for line, obj in records.items:
        where = f"{path}:{line}"
        for vid, qa in obj.items():
            if not isinstance(qa, list) or not qa:
                errors.append(DataError(f"{where}: video {vid} needs a non-empty list of question/answer pairs"))
                continue
            pairs = []
            for n, pair in enumerate(qa):
                if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("question", "answer")):
                    errors.append(DataError(f"{where}: video {vid} pair {n} needs 'question' and 'answer' strings"))
                    pairs = []
                    break
                pairs.append({"question": pair["question"], "answer": pair["answer"], "category": pair.get("category")})
            if pairs:
                items.append(BenchItem(str(vid), str(vid), str(vid), qa=pairs, source=where))
    return _unique(items, errors), errors


LOADERS: dict[str, Callable[[Path], tuple[list[BenchItem], list[DataError]]]] = {
    "salmonn2": _salmonn2, "dream1k": _dream1k, "daily_omni": _daily_omni, "worldsense": _worldsense,
    "ugc": _ugc, "vdc": _vdc,
}


def load_bench_data(path: str | Path, fmt: str) -> BenchData:
    """Read ``path`` in benchmark format ``fmt``; raise ``DataError`` if nothing usable is in it."""
    path = Path(path)
    if fmt not in LOADERS:
        raise DataError(f"unknown benchmark format {fmt!r}")
    if not path.exists():
        raise DataError(f"{path}: data not found")
    if path.is_dir() and fmt != "ugc":
        raise DataError(f"{path}: is a folder; give the benchmark's data file")
    items, errors = LOADERS[fmt](path)
    if not items:
        first = f": {errors[0]}" if errors else ""
        raise DataError(f"{path}: no usable {fmt} items{first}")
    return BenchData(path, fmt, items, errors)
