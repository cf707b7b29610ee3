"""The one reader of row files: every command (caption, eval, train, pairs, bench) reads here.

A row file is a JSON list of objects or JSON Lines (one object per line), UTF-8 with or
without a byte-order mark; the format is read from the content (a first ``[`` is a list),
not from the file name. Every defect is reported the same way, whichever command reads the
file: ``DataError("file:line: cause")``, the defective row is skipped and listed, and every
other row is kept (a first line that is itself a complete JSON value followed by more lines
makes the file JSON Lines, whatever that value is):

* a line (JSONL) or list item that is not valid JSON: ``invalid JSON (…)``; in a list, the
  reader resumes at the next item, so one broken row does not hide the rest;
* a last line that stops mid-row (a writer killed mid-line): ``invalid JSON (…); the last
  line is incomplete``;
* bytes that are not UTF-8: ``not UTF-8 (byte 0xff at column 12)``; the row is skipped rather
  than "repaired" with replacement characters that would silently change paths and captions;
* a row that is not an object: ``expected a JSON object, got list``.

Tolerated without a word, because they lose nothing: a comma after the last item of a list or
at the end of a JSONL line, blank lines, and a missing comma between list items.
Only file-level faults (missing, unreadable, UTF-16, not a list or rows at all) raise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from avcap.errors import DataError

BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# surrogateescape maps each undecodable byte to one lone surrogate in this range.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


@dataclass
class Records:
    """The objects of a row file with their 1-based line numbers, and the defects found."""

    path: Path
    items: list[tuple[int, dict]] = field(default_factory=list)
    errors: list[DataError] = field(default_factory=list)


def read_records(path: str | Path) -> Records:
    """Read a JSON-list or JSONL row file; see the module docstring for what is reported how."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a row file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    if data.startswith(_UTF16_BOMS):
        raise DataError(f"{path}: the file is UTF-16; save it as UTF-8")
    if data.startswith(BOM):
        data = data[len(BOM):]
    text = data.decode("utf-8", errors="surrogateescape")
    records = Records(path)
    start = len(text) - len(text.lstrip())
    if text[start:start + 1] == "[" and not _first_line_is_a_row(text, start):
        _read_list(path, text, start + 1, records)
    else:
        _read_lines(path, text, records)
    return records


def in_file_order(errors: list[DataError]) -> list[DataError]:
    """Errors sorted by the line they name (the reader's and a caller's own checks run in two passes)."""

    def line(err: DataError) -> int:
        tail = str(err).split(": ", 1)[0].rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    return sorted(errors, key=line)


def _first_line_is_a_row(text: str, start: int) -> bool:
    """JSON Lines whose first row happens to be a list (``[1, 2]``, then more lines), not a list file."""
    end = text.find("\n", start)
    if end == -1 or not text[end:].strip():
        return False
    try:
        json.loads(text[start:end])
    except json.JSONDecodeError:
        return False
    return True


def _line_cause(path: Path, line_no: int, text: str) -> DataError | None:
    bad = _ESCAPED_BYTE.search(text)
    if bad is None:
        return None
    byte = ord(bad.group()) - 0xDC00
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    extra = line_no + text.count("\n", 0, bad.start())
    return DataError(f"{path}:{extra}: not UTF-8 (byte 0x{byte:02x} at column {column})")


def _add(records: Records, path: Path, line_no: int, obj: object) -> None:
    if isinstance(obj, dict):
        records.items.append((line_no, obj))
    else:
        records.errors.append(DataError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}"))


def _read_lines(path: Path, text: str, records: Records) -> None:
    lines = text.split("\n")
    torn = not text.endswith("\n")
    for index, line in enumerate(lines):
        line_no = index + 1
        stripped = line.strip()
        if not stripped:
            continue
        if (error := _line_cause(path, line_no, line)) is not None:
            records.errors.append(error)
            continue
        if stripped.endswith("},"):
            stripped = stripped[:-1]
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as err:
            tail = "; the last line is incomplete" if torn and index == len(lines) - 1 else ""
            records.errors.append(DataError(f"{path}:{line_no}: invalid JSON ({err.msg}){tail}"))
            continue
        _add(records, path, line_no, obj)


def _item_end(text: str, pos: int) -> int | None:
    """The offset just past the object or array that starts at ``pos``, by bracket matching
    outside strings; None when it never closes. Used only to step over a broken item."""
    depth, in_string, escaped = 0, False, False
    for offset in range(pos, len(text)):
        char = text[offset]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return offset + 1
    return None


def _read_list(path: Path, text: str, pos: int, records: Records) -> None:
    decoder = json.JSONDecoder()
    line, counted_to = 1, 0  # newlines counted incrementally: linear in the file size

    def line_at(offset: int) -> int:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        return line

    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            records.errors.append(DataError(f"{path}:{line_at(pos)}: the JSON list is not closed with ']' "
                                            "(the file ends early)"))
            return
        if text[pos] == "]":
            rest = text[pos + 1:].strip()
            if rest:
                records.errors.append(DataError(f"{path}:{line_at(pos)}: text after the closing ']' is ignored"))
            return
        start_line = line_at(pos)
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            end = _item_end(text, pos) if text[pos] in "{[" else _next_separator(text, pos)
            if end is None:
                records.errors.append(DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg}); the item "
                                                f"starting at line {start_line} never closes, so the rest of "
                                                "the file cannot be read"))
                return
            records.errors.append(DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg})"))
            pos = end
            continue
        error = _line_cause(path, start_line, text[pos:end])
        if error is None:
            _add(records, path, start_line, obj)
        else:
            records.errors.append(error)
        pos = end


def _next_separator(text: str, pos: int) -> int:
    stops = [i for i in (text.find(",", pos), text.find("\n", pos), text.find("]", pos)) if i != -1]
    return min(stops) if stops else len(text)
