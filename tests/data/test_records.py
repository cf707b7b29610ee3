"""The one row-file reader: the same defect gives the same error, good rows are kept."""

import json
from pathlib import Path

import pytest

from avcap.data import read_records
from avcap.errors import DataError

A = {"id": "a", "video": "a.mp4"}
B = {"id": "b", "video": "b.mp4"}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _ids(records) -> list[str]:
    return [obj["id"] for _, obj in records.items]


@pytest.mark.parametrize("name", ["set.json", "set.jsonl", "set.txt"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_list_and_lines_with_or_without_bom_whatever_the_name(tmp_path, name, bom):
    as_list = _write(tmp_path, "l-" + name, bom + json.dumps([A, B], indent=1).encode())
    as_lines = _write(tmp_path, "j-" + name, bom + (json.dumps(A) + "\n" + json.dumps(B) + "\n").encode())
    for path in (as_list, as_lines):
        records = read_records(path)
        assert _ids(records) == ["a", "b"] and records.errors == []
    assert [line for line, _ in read_records(as_list).items] == [2, 6]
    assert [line for line, _ in read_records(as_lines).items] == [1, 2]


def test_broken_jsonl_line_is_listed_and_the_rest_kept(tmp_path):
    path = _write(tmp_path, "s.jsonl", f'{json.dumps(A)}\n{{"id": "x", \n{json.dumps(B)}\n'.encode())
    records = read_records(path)
    assert _ids(records) == ["a", "b"]
    assert [str(e) for e in records.errors] == [f"{path}:2: invalid JSON (Expecting property name enclosed in double quotes)"]


def test_broken_list_item_is_listed_and_reading_resumes_at_the_next_item(tmp_path):
    text = '[\n {"id": "a", "video": "a.mp4"},\n {"id": "x", "video": nope},\n {"id": "b", "video": "b.mp4"}\n]'
    records = read_records(_write(tmp_path, "s.json", text.encode()))
    assert _ids(records) == ["a", "b"]
    assert len(records.errors) == 1 and ":3: invalid JSON" in str(records.errors[0])


def test_trailing_commas_and_missing_commas_are_tolerated(tmp_path):
    as_list = _write(tmp_path, "t.json", f"[{json.dumps(A)},\n{json.dumps(B)},\n]".encode())
    as_lines = _write(tmp_path, "t.jsonl", f"{json.dumps(A)},\n{json.dumps(B)},\n".encode())
    no_comma = _write(tmp_path, "n.json", f"[{json.dumps(A)}\n{json.dumps(B)}]".encode())
    for path in (as_list, as_lines, no_comma):
        records = read_records(path)
        assert _ids(records) == ["a", "b"] and records.errors == [], path


def test_a_byte_that_is_not_utf8_skips_only_its_row(tmp_path):
    bad = json.dumps({"id": "x", "video": "caf\u00e9.mp4"}, ensure_ascii=False).encode("latin-1")  # 0xe9, not UTF-8
    for name, data in (("u.jsonl", json.dumps(A).encode() + b"\n" + bad + b"\n" + json.dumps(B).encode() + b"\n"),
                       ("u.json", b"[" + json.dumps(A).encode() + b",\n" + bad + b",\n" + json.dumps(B).encode() + b"]")):
        path = _write(tmp_path, name, data)
        records = read_records(path)
        assert _ids(records) == ["a", "b"]
        assert [str(e) for e in records.errors] == [f"{path}:2: not UTF-8 (byte 0xe9 at column 26)"]


def test_a_torn_last_line_is_listed_as_incomplete(tmp_path):
    path = _write(tmp_path, "t.jsonl", (json.dumps(A) + "\n" + json.dumps(B)[:9]).encode())
    records = read_records(path)
    assert _ids(records) == ["a"]
    assert "t.jsonl:2: invalid JSON" in str(records.errors[0]) and "the last line is incomplete" in str(records.errors[0])
    torn_list = _write(tmp_path, "t.json", ("[" + json.dumps(A) + ",\n" + json.dumps(B)[:9]).encode())
    records = read_records(torn_list)
    assert _ids(records) == ["a"] and "never closes" in str(records.errors[0])


def test_rows_that_are_not_objects(tmp_path):
    path = _write(tmp_path, "o.jsonl", b'[1, 2]\n"text"\n' + json.dumps(A).encode() + b"\n")
    records = read_records(path)
    assert _ids(records) == ["a"]  # line 1 is a whole value and more lines follow: JSON Lines
    assert [str(e) for e in records.errors] == [f"{path}:1: expected a JSON object, got list",
                                                f"{path}:2: expected a JSON object, got str"]


@pytest.mark.parametrize("data, cause", [(b"\xff\xfe[\x00]\x00", "UTF-16"), (None, "not found")])
def test_file_level_faults_raise(tmp_path, data, cause):
    path = tmp_path / "f.json"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(DataError, match=cause):
        read_records(path)
    with pytest.raises(DataError, match="is a folder"):
        read_records(tmp_path)


def test_large_list_reads_in_linear_time(tmp_path):
    rows = [{"id": str(i), "video": f"{i}.mp4"} for i in range(20_000)]
    path = _write(tmp_path, "big.json", json.dumps(rows, indent=1).encode())
    records = read_records(path)
    assert len(records.items) == 20_000 and records.items[-1][0] == 1 + 4 * 19_999 + 1
