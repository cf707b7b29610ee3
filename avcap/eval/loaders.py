"""Benchmark and caption files in, as ``DatasetRow``s / ``QAItem``s and caption lookups.

Formats read (each detected from the first row):

* the video-SALMONN 2 test set (``video``, ``conversations``, ``events``) — via
  ``avcap.data.load_dataset``;
* DREAM-1K annotations (``messages`` with the video and the reference, ``dataset`` = the
  AutoDQ source, ``idx``/``vid``, ``extra_info.events``);
* multiple-choice QA sets in the Video-MME / Daily-Omni / WorldSense style: one row per
  question (``question``, ``options``, ``answer``, a video id), or one row per video with a
  ``questions`` list.

Files are read by :func:`avcap.data.read_records`, the reader every command shares: a
malformed row becomes a ``DataError`` naming ``file:line``; the other rows still load.
Evaluation never opens the media, so rows' video paths are not confined to the data folder.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

from avcap.data import DatasetRow, load_dataset, read_records
from avcap.errors import DataError


@dataclass
class QAItem:
    id: str
    video_key: str  # matched against caption rows' "id" (then their video path, name, stem)
    question: str
    options: list[tuple[str, str]]  # (letter, text)
    answer: str  # the gold letter
    raw: dict = field(repr=False)
    source: str = ""


@dataclass
class Benchmark:
    path: Path
    format: str  # "salmonn2", "dream1k" or "qa"
    rows: list[DatasetRow]  # captioning items (reference and/or events)
    qa: list[QAItem]
    errors: list[DataError]


def _lower_keys(obj: dict) -> dict:
    return {str(k).lower(): v for k, v in obj.items()}


def _detect(first: object) -> str:
    if isinstance(first, dict):
        keys = set(_lower_keys(first))
        if "messages" in keys:
            return "dream1k"
        if "question" in keys or "questions" in keys:
            return "qa"
    return "salmonn2"


def load_benchmark(path: str | Path) -> Benchmark:
    """Read a benchmark file in any supported format (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    records = read_records(path)
    fmt = _detect(records.items[0][1]) if records.items else "salmonn2"
    if fmt == "salmonn2":
        ds = load_dataset(path, allow_outside_paths=True)
        return Benchmark(path, fmt, ds.rows, [], ds.errors)
    rows: list[DatasetRow] = []
    qa: list[QAItem] = []
    errors: list[DataError] = list(records.errors)
    for line, obj in records.items:
        where = f"{path}:{line}"
        try:
            if fmt == "dream1k":
                rows.append(_dream_row(obj, path.resolve().parent, where))
            else:
                qa.extend(_qa_items(obj, where))
        except DataError as err:
            errors.append(err)
    unique: dict[str, QAItem] = {}
    for item in qa:
        if item.id in unique:
            errors.append(DataError(f"{item.source}: duplicate question id '{item.id}' (first at {unique[item.id].source})"))
        else:
            unique[item.id] = item
    seen: dict[str, str] = {}
    for row in list(rows):
        if row.id in seen:
            errors.append(DataError(f"{row.source}: duplicate id '{row.id}' (first at {seen[row.id]})"))
            rows.remove(row)
        else:
            seen[row.id] = row.source
    return Benchmark(path, fmt, rows, list(unique.values()), errors)


def _dream_row(obj: object, base: Path, where: str) -> DatasetRow:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise DataError(f"{where}: a DREAM-1K row needs a 'messages' list")
    video = reference = prompt = None
    for message in obj["messages"]:
        if not isinstance(message, dict):
            raise DataError(f"{where}: each message must be an object")
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "video" and isinstance(part.get("video"), str):
                p = Path(part["video"]).expanduser()
                video = str(p if p.is_absolute() else (base / p).resolve())
            elif part.get("type") == "video" and isinstance(part.get("video"), dict):
                # The release writes {"video": {"video_file": "135.mp4"}}.
                name = part["video"].get("video_file") or part["video"].get("path")
                if isinstance(name, str) and name.strip():
                    p = Path(name).expanduser()
                    video = str(p if p.is_absolute() else (base / p).resolve())
            elif part.get("type") == "text" and message.get("role") == "assistant" and reference is None:
                # The release keeps the ground truth in the part's "reference"; its "text" is
                # empty there, and in a prediction file it is the model's caption, not the truth.
                ref = part.get("reference")
                text = ref if isinstance(ref, str) and ref.strip() else part.get("text") if "reference" not in part else None
                if isinstance(text, str) and text.strip():
                    reference = text.strip()
            elif part.get("type") == "text" and message.get("role") == "user" and prompt is None:
                if isinstance(part.get("text"), str):
                    prompt = part["text"].strip()
    reference = reference or (obj.get("reference") if isinstance(obj.get("reference"), str) else None)
    if not reference:
        raise DataError(f"{where}: DREAM-1K row has no reference description (assistant message)")
    row_id = obj.get("idx", obj.get("vid", obj.get("id")))
    if row_id is None:
        raise DataError(f"{where}: DREAM-1K row has no 'idx' or 'vid'")
    # extra_info.events are DREAM-1K's own reference events; AutoDQ uses them when present.
    return DatasetRow(id=str(row_id), video=video, audio=None, prompt=prompt, reference=reference,
                      events=None, raw=obj, source=where)


def _options(raw: object, where: str) -> list[tuple[str, str]]:
    if isinstance(raw, dict):
        return [(str(k).strip().upper(), str(v).strip()) for k, v in raw.items()]
    if not isinstance(raw, list) or not raw or not all(isinstance(o, str) for o in raw):
        raise DataError(f"{where}: 'options' must be a non-empty list of strings or a letter->text object")
    out = []
    for i, option in enumerate(raw):
        text = option.strip()
        # "A. text", "(A) text", "A) text", "A: text" carry their own letter.
        if len(text) >= 2 and text[0] == "(" and text[1:2].isalpha() and text[2:3] == ")":
            out.append((text[1].upper(), text[3:].strip()))
        elif len(text) >= 2 and text[0].isalpha() and text[0].isupper() and text[1] in ".):":
            out.append((text[0], text[2:].strip()))
        else:
            out.append((string.ascii_uppercase[i], text))
    if len({letter for letter, _ in out}) != len(out):
        raise DataError(f"{where}: options repeat a letter")
    return out


def _gold(raw: object, options: list[tuple[str, str]], where: str) -> str:
    letters = [letter for letter, _ in options]
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(options):
        return letters[raw]
    text = str(raw or "").strip()
    candidate = text.strip("()").rstrip(".):").strip().upper()
    if candidate in letters:
        return candidate
    for letter, option in options:
        if text and text.casefold() == option.casefold():
            return letter
    if len(text) > 1 and text[0].upper() in letters and text[1] in ".):":
        return text[0].upper()
    raise DataError(f"{where}: answer {text[:40]!r} is not one of the options {''.join(letters)}")


def _qa_items(obj: object, where: str) -> list[QAItem]:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    row = _lower_keys(obj)
    video_key = row.get("video_id", row.get("videoid", row.get("vid", row.get("video"))))
    if video_key is None:
        raise DataError(f"{where}: QA row has no video id ('video_id', 'vid' or 'video')")
    questions = row.get("questions")
    if questions is None:
        questions = [obj]
    if not isinstance(questions, list):
        raise DataError(f"{where}: 'questions' must be a list")
    items = []
    for n, q in enumerate(questions):
        if not isinstance(q, dict):
            raise DataError(f"{where}: question {n} is not an object")
        ql = _lower_keys(q)
        question = ql.get("question")
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"{where}: question {n} has no 'question' text")
        options = _options(ql.get("options", ql.get("choice", ql.get("choices", ql.get("candidates")))), where)
        answer = _gold(ql.get("answer", ql.get("gold")), options, where)
        qid = ql.get("question_id", ql.get("qid", ql.get("id")))
        if qid is None:
            qid = f"{video_key}#{n}" if len(questions) > 1 else f"{video_key}#L{where.rsplit(':', 1)[-1]}"
        items.append(QAItem(str(qid), str(video_key), question.strip(), options, answer, q, where))
    return items
