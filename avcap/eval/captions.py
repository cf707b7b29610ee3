"""Caption files (``avcap caption`` output, DESIGN.md) read into a lookup for evaluation.

Row: ``{"id", "video", "caption", "model", "generation", "seconds", "error", "sample"?}``.
A row with an ``error`` is a failed caption: the item is counted as such, never judged and
never dropped. An id that appears twice is reported as a defect of the file (the first row is
used), except an error row followed by a caption for the same id: that is a retry, and the
caption counts. Files are read by :func:`avcap.data.read_records`, the shared reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from avcap.data.records import in_file_order, read_records
from avcap.errors import DataError


@dataclass(frozen=True)
class CaptionRow:
    id: str
    caption: str | None
    error: str | None
    video: str | None
    model: str | None
    source: str
    audit: dict | None = None  # the modality audit of `avcap caption` (None: an older or foreign file)


@dataclass
class CaptionSet:
    name: str
    path: Path
    rows: dict[str, CaptionRow]
    errors: list[DataError] = field(default_factory=list)
    _by_video: dict[str, CaptionRow] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for row in self.rows.values():
            if row.video:
                p = Path(row.video)
                for key in (row.video, p.name, p.stem):
                    self._by_video.setdefault(key, row)

    def lookup(self, item_id: str, video: str | None = None) -> CaptionRow | None:
        """The caption of an item: by id, else by the item's video path, file name or stem."""
        row = self.rows.get(item_id)
        if row is not None:
            return row
        for key in filter(None, (item_id, video, video and Path(video).name, video and Path(video).stem,
                                 Path(item_id).stem)):
            if key in self._by_video:
                return self._by_video[key]
            if key in self.rows:
                return self.rows[key]
        return None

    @property
    def model(self) -> str | None:
        return next((r.model for r in self.rows.values() if r.model), None)


def load_captions(path: str | Path, name: str | None = None, sample: int = 0) -> CaptionSet:
    """Read a captions JSONL file; rows of other ``sample`` indices are skipped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: captions file not found")
    rows: dict[str, CaptionRow] = {}
    records = read_records(path)
    errors: list[DataError] = list(records.errors)
    for line, obj in records.items:
        where = f"{path}:{line}"
        if (obj.get("sample") or 0) != sample:
            continue
        row_id = obj.get("id")
        if not isinstance(row_id, (str, int)) or isinstance(row_id, bool) or str(row_id).strip() == "":
            errors.append(DataError(f"{where}: caption row has no 'id'"))
            continue
        caption, error = obj.get("caption"), obj.get("error")
        if error is not None and not isinstance(error, str):
            error = str(error)
        if caption is not None and not isinstance(caption, str):
            errors.append(DataError(f"{where}: 'caption' must be a string"))
            continue
        if error is None and caption is None:
            error = "the caption row has neither a caption nor an error"
        video = obj.get("video") if isinstance(obj.get("video"), str) else None
        model = obj.get("model") if isinstance(obj.get("model"), str) else None
        audit = obj.get("audit") if isinstance(obj.get("audit"), dict) else None
        row = CaptionRow(str(row_id), caption, error, video, model, where, audit)
        first = rows.get(row.id)
        if first is not None and not (first.error and not row.error):
            errors.append(DataError(f"{where}: duplicate caption id '{row.id}' (first at {first.source}); "
                                    "the first row is used"))
            continue
        rows[row.id] = row
    return CaptionSet(name or path.stem, path, rows, in_file_order(errors))
