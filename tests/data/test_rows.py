import json
from pathlib import Path

import pytest

from avcap.data import OutsidePathError, load_dataset
from avcap.errors import DataError

GOOD = {
    "id": "v001",
    "video": "clips/v001.mp4",
    "conversations": [
        {"from": "human", "value": "<video>\nDescribe the video in detail."},
        {"from": "gpt", "value": "A red square moves right."},
    ],
    "events": ["a red square appears", "the square moves right"],
    "extra_field": {"kept": True},
}


def test_json_list_row_fields_and_path_resolution(tmp_path: Path):
    path = tmp_path / "set.json"
    path.write_text(json.dumps([GOOD, {**GOOD, "id": "v002", "video": "/abs/v2.mp4", "audio": "a/v2.wav"}]))
    ds = load_dataset(path, allow_outside_paths=True)
    assert ds.errors == []
    first, second = ds.rows
    assert first.id == "v001"
    assert first.video == str((tmp_path / "clips/v001.mp4").resolve())
    assert first.prompt == "Describe the video in detail."
    assert first.reference == "A red square moves right."
    assert first.events == GOOD["events"]
    assert first.raw["extra_field"] == {"kept": True}
    assert first.source == f"{path}:1"
    assert second.video == "/abs/v2.mp4"
    assert second.audio == str((tmp_path / "a/v2.wav").resolve())


def test_official_test_set_row_without_id_uses_video(tmp_path: Path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps([{"video": "x/1.mp4", "conversations": GOOD["conversations"], "events": []}]))
    (row,) = load_dataset(path).rows
    assert row.id == "x/1.mp4"
    assert row.events == []


def test_malformed_rows_are_reported_with_line_and_others_load(tmp_path: Path):
    path = tmp_path / "set.jsonl"
    lines = [
        json.dumps(GOOD),
        "{not json",
        json.dumps({"id": "nov"}),
        json.dumps({**GOOD, "id": "e", "events": "not a list"}),
        json.dumps({**GOOD, "id": "c", "conversations": [{"from": "robot", "value": "x"}]}),
        json.dumps(GOOD),  # duplicate id
        json.dumps([1, 2]),
        json.dumps({**GOOD, "id": "ok2"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    ds = load_dataset(path)
    assert [r.id for r in ds.rows] == ["v001", "ok2"]
    messages = [str(e) for e in ds.errors]
    assert len(messages) == 6
    assert messages[0].startswith(f"{path}:2: invalid JSON")
    assert f"{path}:3:" in messages[1] and "neither 'video' nor 'audio'" in messages[1]
    assert f"{path}:4:" in messages[2] and "events" in messages[2]
    assert f"{path}:5:" in messages[3] and "unknown role" in messages[3]
    assert f"{path}:6:" in messages[4] and "duplicate id 'v001'" in messages[4]
    assert f"{path}:7:" in messages[5] and "JSON object" in messages[5]
    with pytest.raises(DataError, match=":2: invalid JSON"):
        load_dataset(path, strict=True)


def test_json_list_line_numbers(tmp_path: Path):
    path = tmp_path / "set.json"
    path.write_text('[\n  {"id": "a", "video": "a.mp4"},\n  {"id": "b"}\n]\n')
    ds = load_dataset(path)
    assert [r.id for r in ds.rows] == ["a"]
    assert str(ds.errors[0]).startswith(f"{path}:3:")


@pytest.mark.parametrize(
    "content, rows, message",
    [('{"a": 1}', [], ":1: row has neither 'video' nor 'audio'"),
     ('[{"id": "a", "video": "a.mp4"},', ["a"], ":1: the JSON list is not closed"),
     ('[{"id": "a", "video": "a.mp4"},\n{bad', ["a"], ":2: invalid JSON"),
     ('[{"id": "a", "video": "a.mp4"},\n{"id": "b", "video": 3},\n{"id": "c", "video": "c.mp4"}]', ["a", "c"],
      ":2: field 'video' must be a non-empty string path")],
)
def test_defects_skip_the_row_and_keep_the_others(tmp_path: Path, content: str, rows: list, message: str):
    path = tmp_path / "set.json"
    path.write_text(content)
    ds = load_dataset(path)
    assert [r.id for r in ds.rows] == rows
    assert len(ds.errors) == 1 and message in str(ds.errors[0]), ds.errors


def test_media_paths_must_stay_inside_the_dataset_folder(tmp_path: Path):
    inside = tmp_path / "set"
    (inside / "clips").mkdir(parents=True)
    (inside / "clips" / "ok.mp4").write_bytes(b"x")
    (inside / "link.mp4").symlink_to("/etc/hostname")
    rows = [{"id": "ok", "video": "clips/ok.mp4"}, {"id": "abs", "video": "/etc/shadow"},
            {"id": "up", "video": "../../etc/passwd"}, {"id": "link", "video": "link.mp4"},
            {"id": "audio", "video": "clips/ok.mp4", "audio": "/etc/passwd"}, {"id": "home", "video": "~/.ssh/id_rsa"}]
    path = inside / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_dataset(path)
    assert [r.id for r in ds.rows] == ["ok"]
    assert [e.row_id for e in ds.errors] == ["abs", "up", "link", "audio", "home"]
    assert all(isinstance(e, OutsidePathError) and "is outside" in str(e) for e in ds.errors)
    assert [r.id for r in load_dataset(path, allow_outside_paths=True).rows] == [r["id"] for r in rows]
    # A media root elsewhere: paths must lie inside it instead.
    ds = load_dataset(path, media_root="/etc")
    assert [r.id for r in ds.rows] == ["abs", "link"]  # the link resolves to /etc/hostname


def test_missing_file(tmp_path: Path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nope.json")


def test_media_placeholders_are_stripped_from_prompts(tmp_path: Path):
    path = tmp_path / "set.jsonl"
    rows = [{"id": "a", "audio": "a.wav", "conversations": [{"from": "human", "value": "<audio>\nTranscribe."}]},
            {"id": "b", "audio": "b.wav", "conversations": [{"from": "human", "value": "<image>\nWhat sounds occur?"}]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r.prompt for r in load_dataset(path).rows] == ["Transcribe.", "What sounds occur?"]
