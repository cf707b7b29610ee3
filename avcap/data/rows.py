"""Dataset rows in the official video-SALMONN 2 format (JSON list or JSONL).

A row::

    {"id": "v001", "video": "clips/v001.mp4", "audio": "clips/v001.wav",
     "conversations": [{"from": "human", "value": "<video>\\nDescribe the video in detail."},
                       {"from": "gpt", "value": "ground-truth caption"}],
     "events": ["atomic event 1", "atomic event 2"]}

``id`` is optional (the ``video`` string then serves as id, as in the official test set),
``audio`` and ``events`` are optional, extra fields pass through in ``raw``. Relative paths
resolve against the dataset file's folder. A malformed row becomes a :class:`DataError`
naming ``file:line`` and the cause; the other rows still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from avcap.errors import DataError

# Media placeholders of the official releases: <video>; <audio> for audio-only rows; LLaVA's
# <image>, which the 2+ release rewrites to <video> or <audio>. avcap places media tokens itself.
MEDIA_PLACEHOLDERS = ("<video>", "<audio>", "<image>")
HUMAN_ROLES = {"human", "user"}
MODEL_ROLES = {"gpt", "assistant"}


@dataclass
class DatasetRow:
    id: str
    video: str | None  # absolute path
    audio: str | None  # absolute path of a separate audio track, overrides the video's own
    prompt: str | None  # first human turn without its <video> / <audio> / <image> placeholder
    reference: str | None  # first model turn: the ground-truth caption
    events: list[str] | None
    raw: dict = field(repr=False)
    source: str = ""  # "file:line"


@dataclass
class Dataset:
    path: Path
    rows: list[DatasetRow]
    errors: list[DataError]

    def by_id(self) -> dict[str, DatasetRow]:
        return {row.id: row for row in self.rows}


def _resolve(base: Path, value: object, field_name: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: field '{field_name}' must be a non-empty string path")
    if "\x00" in value:
        raise DataError(f"{where}: field '{field_name}' contains a NUL byte")
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def strip_placeholder(text: str) -> str:
    for tag in MEDIA_PLACEHOLDERS:
        text = text.replace(tag, "")
    return text.strip()


def parse_row(obj: object, base: Path, where: str) -> DatasetRow:
    """Validate one decoded row; raise DataError naming ``where`` on any problem."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    video = _resolve(base, obj.get("video"), "video", where)
    audio = _resolve(base, obj.get("audio"), "audio", where)
    if video is None and audio is None:
        raise DataError(f"{where}: row has neither 'video' nor 'audio'")
    prompt = reference = None
    conversations = obj.get("conversations")
    if conversations is not None:
        if not isinstance(conversations, list):
            raise DataError(f"{where}: 'conversations' must be a list of turns")
        for turn_index, turn in enumerate(conversations):
            if not isinstance(turn, dict) or not isinstance(turn.get("value"), str) or "from" not in turn:
                raise DataError(f"{where}: conversations[{turn_index}] needs 'from' and a string 'value'")
            role = str(turn["from"]).lower()
            if role in HUMAN_ROLES and prompt is None:
                prompt = strip_placeholder(turn["value"])
            elif role in MODEL_ROLES and reference is None:
                reference = turn["value"].strip()
            elif role not in HUMAN_ROLES | MODEL_ROLES and role != "system":
                raise DataError(f"{where}: conversations[{turn_index}] has unknown role '{turn['from']}'")
    events = obj.get("events")
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise DataError(f"{where}: 'events' must be a list of strings")
        events = [e.strip() for e in events if e.strip()]
    row_id = obj.get("id", obj.get("video") if obj.get("video") is not None else obj.get("audio"))
    if not isinstance(row_id, (str, int)) or (isinstance(row_id, str) and not row_id.strip()):
        raise DataError(f"{where}: 'id' must be a non-empty string or integer")
    return DatasetRow(
        id=str(row_id), video=video, audio=audio, prompt=prompt or None, reference=reference or None,
        events=events, raw=obj, source=where,
    )


def _json_list_items(path: Path, text: str) -> list[tuple[int, object]]:
    """Decode a top-level JSON list, keeping each item's line number for error messages."""
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if not text[pos:].startswith("["):
        raise DataError(f"{path}:1: a .json dataset must be a list of rows")
    pos += 1
    items: list[tuple[int, object]] = []
    line, counted_to = 1, 0  # newlines are counted incrementally: linear in the file size

    def line_at(offset: int) -> int:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        return line

    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise DataError(f"{path}:{line_at(pos)}: unterminated JSON list")
        if text[pos] == "]":
            return items
        start_line = line_at(pos)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        items.append((start_line, obj))


def _jsonl_items(path: Path, text: str) -> list[tuple[int, object]]:
    """Decode each line; a line that is not JSON becomes a DataError item, so other rows still load."""
    items: list[tuple[int, object]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((line_no, json.loads(line)))
        except json.JSONDecodeError as err:
            items.append((line_no, DataError(f"{path}:{line_no}: invalid JSON ({err.msg})")))
    return items


def load_dataset(path: str | Path, strict: bool = False) -> Dataset:
    """Read a dataset file (``.json`` list or ``.jsonl``).

    File-level problems (missing file, not JSON) raise :class:`DataError`. Row-level problems
    are collected in ``Dataset.errors`` (or raised at once when ``strict``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found")
    base = path.resolve().parent
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".jsonl" or (path.suffix.lower() != ".json" and not text.lstrip().startswith("[")):
        items = _jsonl_items(path, text)
    else:
        items = _json_list_items(path, text)
    rows: list[DatasetRow] = []
    errors: list[DataError] = []
    seen: dict[str, str] = {}
    for line, obj in items:
        where = f"{path}:{line}"
        try:
            if isinstance(obj, DataError):
                raise obj
            row = parse_row(obj, base, where)
            if row.id in seen:
                raise DataError(f"{where}: duplicate id '{row.id}' (first at {seen[row.id]})")
        except DataError as err:
            if strict:
                raise
            errors.append(err)
            continue
        seen[row.id] = where
        rows.append(row)
    return Dataset(path=path, rows=rows, errors=errors)
