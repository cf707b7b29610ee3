"""Dataset rows in the official video-SALMONN 2 format (JSON list or JSONL).

A row::

    {"id": "v001", "video": "clips/v001.mp4", "audio": "clips/v001.wav",
     "conversations": [{"from": "human", "value": "<video>\\nDescribe the video in detail."},
                       {"from": "gpt", "value": "ground-truth caption"}],
     "events": ["atomic event 1", "atomic event 2"]}

``id`` is optional (the ``video`` string then serves as id, as in the official test set),
``audio`` and ``events`` are optional, extra fields pass through in ``raw``. The official
releases' own fields are read too (:mod:`avcap.data.official`): DPO roles ``chosen``/``reject``
(2+) and ``gt``/``reject_gpt`` (first release), ``use_audio``, ``timestamps``, ``prefix``,
``image``. Relative paths resolve against the dataset file's folder. A malformed row becomes a
:class:`DataError` naming ``file:line`` and the cause; the other rows still load (the file itself
is read by :func:`avcap.data.records.read_records`, the one reader every command shares).

Media paths stay where they belong: a row's ``video`` / ``audio`` / ``image`` must resolve (symbolic
links followed) inside the dataset's folder, or inside ``media_root`` when one is given; anything
else is an :class:`OutsidePathError` for that row, unless the caller allows outside paths. A
dataset file from elsewhere must not make avcap open ``/etc/shadow`` or ``~/.ssh/id_rsa``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from avcap.data.official import Turns, preference_pair, read_options, read_turns
from avcap.data.records import in_file_order, read_records
from avcap.errors import DataError

# Media placeholders of the official releases: <video>; <audio> for audio-only rows; LLaVA's
# <image>, which the 2+ release rewrites to <video> or <audio>. avcap places media tokens itself.
MEDIA_PLACEHOLDERS = ("<video>", "<audio>", "<image>")


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
    chosen: str | None = None  # preference rows: top-level fields or the official DPO roles
    rejected: str | None = None
    image: str | None = None  # absolute path of a still image (a row with no video)
    use_audio: bool = True  # false: visual only (no audio tokens at all)
    timestamps: tuple[float, float] | None = None  # the segment of the video this row is about
    prefix: str | None = None  # text the answer is forced to start with (captioning)


class OutsidePathError(DataError):
    """A row's media path leads outside the allowed folder; the row's id is known, so a batch
    can record the item as failed (an error row) instead of dropping it."""

    def __init__(self, message: str, row_id: str, source: str):
        super().__init__(message)
        self.row_id = row_id
        self.source = source


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


def _check_inside(path: str | None, root: Path, field_name: str, where: str, row_id: str) -> None:
    if path is None:
        return
    real = Path(os.path.realpath(path))  # symbolic links followed: a link out of the folder is out
    if not real.is_relative_to(root):
        raise OutsidePathError(
            f"{where}: '{field_name}' path {path} is outside {root}; pass --media-root DIR for media kept "
            "elsewhere, or --allow-outside-paths if you trust this dataset", row_id, where)


def strip_placeholder(text: str) -> str:
    for tag in MEDIA_PLACEHOLDERS:
        text = text.replace(tag, "")
    return text.strip()


def parse_row(obj: object, base: Path, where: str, media_root: Path | None = None) -> DatasetRow:
    """Validate one decoded row; raise DataError naming ``where`` on any problem.

    ``media_root`` (a resolved folder) confines the row's media paths; None allows any path.
    """
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    video = _resolve(base, obj.get("video"), "video", where)
    audio = _resolve(base, obj.get("audio"), "audio", where)
    if isinstance(obj.get("image"), list):
        raise DataError(f"{where}: 'image' must be one image path (avcap takes one image per row)")
    image = _resolve(base, obj.get("image"), "image", where)
    if video is None and audio is None and image is None:
        raise DataError(f"{where}: row has neither 'video' nor 'audio' nor 'image'")
    prompt = reference = chosen = rejected = turn_prefix = None
    conversations = obj.get("conversations")
    if conversations is not None:
        turns = read_turns(conversations, where)
        prompt = strip_placeholder(turns.prompt) if turns.prompt is not None else None
        reference, turn_prefix = turns.reference, turns.prefix
        chosen, rejected = preference_pair(obj, turns, where)
    elif obj.get("chosen") is not None or obj.get("rejected") is not None:
        chosen, rejected = preference_pair(obj, Turns(None, None, None, None, None), where)
    options = read_options(obj, where)
    events = obj.get("events")
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise DataError(f"{where}: 'events' must be a list of strings")
        events = [e.strip() for e in events if e.strip()]
    row_id = obj.get("id", next((obj[k] for k in ("video", "audio", "image") if obj.get(k) is not None), None))
    if not isinstance(row_id, (str, int)) or isinstance(row_id, bool) or (isinstance(row_id, str) and not row_id.strip()):
        raise DataError(f"{where}: 'id' must be a non-empty string or integer")
    if media_root is not None:
        _check_inside(video, media_root, "video", where, str(row_id))
        _check_inside(audio, media_root, "audio", where, str(row_id))
        _check_inside(image, media_root, "image", where, str(row_id))
    return DatasetRow(
        id=str(row_id), video=video, audio=audio, prompt=prompt or None, reference=reference or None,
        events=events, raw=obj, source=where, chosen=chosen, rejected=rejected, image=image,
        use_audio=options.use_audio, timestamps=options.timestamps, prefix=options.prefix or turn_prefix,
    )


def load_dataset(path: str | Path, strict: bool = False, media_root: str | Path | None = None,
                 allow_outside_paths: bool = False) -> Dataset:
    """Read a dataset file (JSON list or JSONL, see :mod:`avcap.data.records`).

    File-level problems (missing file, not JSON) raise :class:`DataError`. Row-level problems
    are collected in ``Dataset.errors`` (or raised at once when ``strict``). Media paths must
    lie inside ``media_root`` (default: the dataset file's folder) unless
    ``allow_outside_paths`` — callers that never open the media (evaluation) pass True.
    """
    path = Path(path)
    base = path.resolve().parent
    root = None if allow_outside_paths else Path(os.path.realpath(Path(media_root).expanduser() if media_root else base))
    records = read_records(path)
    if strict and records.errors:
        raise records.errors[0]
    rows: list[DatasetRow] = []
    errors: list[DataError] = list(records.errors)
    seen: dict[str, str] = {}
    for line, obj in records.items:
        where = f"{path}:{line}"
        try:
            row = parse_row(obj, base, where, media_root=root)
            if row.id in seen:
                raise DataError(f"{where}: duplicate id '{row.id}' (first at {seen[row.id]})")
        except DataError as err:
            if strict:
                raise
            errors.append(err)
            continue
        seen[row.id] = where
        rows.append(row)
    return Dataset(path=path, rows=rows, errors=in_file_order(errors))
