"""Catalog: caption files to pairs, videos found inside the folder only, safe media paths."""

import json
import os
from pathlib import Path

import pytest

from avcap.arena.catalog import load_catalog, parse_source, safe_media_path
from avcap.errors import DataError


def _files(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("v1", "v2", "v3"):
        (videos / f"{name}.mp4").write_bytes(b"\x00" * 10)
    return videos


def _caps(path: Path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_safe_media_path(tmp_path):
    root = _files(tmp_path).resolve()
    (root / "sub").mkdir()
    (root / "sub" / "c.mp4").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "link.mp4")  # points outside
    os.symlink(root / "v1.mp4", root / "inside.mp4")  # points inside: fine
    assert safe_media_path(root, "v1.mp4") == root / "v1.mp4"
    assert safe_media_path(root, "sub/c.mp4") == root / "sub" / "c.mp4"
    assert safe_media_path(root, "inside.mp4") == root / "v1.mp4"
    for bad in ("../secret.txt", "sub/../../secret.txt", "/etc/passwd", str(tmp_path / "secret.txt"), "link.mp4",
                "sub", "", "v1.mp4\x00", "sub\\c.mp4", "missing.mp4", "C:/x.mp4", "sub/./../../secret.txt"):
        assert safe_media_path(root, bad) is None, bad


def test_parse_source(tmp_path):
    assert parse_source("a/b/caps.jsonl") == ("caps", Path("a/b/caps.jsonl"))
    assert parse_source("nano=a/caps.jsonl") == ("nano", Path("a/caps.jsonl"))
    weird = tmp_path / "x=y.jsonl"
    weird.write_text("")
    assert parse_source(str(weird)) == ("x=y", weird)  # an existing file with "=" is a path
    with pytest.raises(DataError):
        parse_source("=a.jsonl")


def test_catalog_pairs_and_skips(tmp_path):
    videos = _files(tmp_path)
    a = _caps(tmp_path / "a.jsonl", [
        {"id": "v1", "video": str(videos / "v1.mp4"), "caption": "a one", "error": None},
        {"id": "v2", "video": "elsewhere/v2.mp4", "caption": "a two", "error": None},  # found by file name
        {"id": "v3", "caption": "a three", "error": None},  # found by id
        {"id": "v4", "caption": "no video", "error": None},
    ])
    b = _caps(tmp_path / "b.jsonl", [
        {"id": "v1", "caption": "b one", "error": None},
        {"id": "v2", "caption": None, "error": "decode failed"},
        {"id": "v3", "caption": "first try", "error": None},
        {"id": "v3", "caption": "  ", "error": None},  # the later (empty) row wins: no caption
    ])
    cat = load_catalog([("a", a), ("b", b)], videos)
    assert cat.videos == {"v1": "v1.mp4", "v2": "v2.mp4", "v3": "v3.mp4"}
    assert cat.pair_videos() == {("a", "b"): ["v1"]}
    assert cat.n_pairs == 1
    assert any("1 failed and 1 empty" in w for w in cat.warnings)
    assert any("no video" in w for w in cat.warnings)
    assert cat.media_path("v1.mp4") is not None and cat.media_path("v2.mp4") is not None
    assert cat.sources["a"] == str(a.resolve())


def test_catalog_refuses_nothing_to_compare(tmp_path):
    videos = _files(tmp_path)
    a = _caps(tmp_path / "a.jsonl", [{"id": "v1", "caption": "x", "error": None}])
    b = _caps(tmp_path / "b.jsonl", [{"id": "v2", "caption": "y", "error": None}])
    with pytest.raises(DataError, match="nothing to compare"):
        load_catalog([("a", a), ("b", b)], videos)
    with pytest.raises(DataError, match="at least two"):
        load_catalog([("a", a)], videos)
    with pytest.raises(DataError, match="share the model name"):
        load_catalog([("a", a), ("a", b)], videos)
    with pytest.raises(DataError, match="videos folder not found"):
        load_catalog([("a", a), ("b", b)], tmp_path / "nope")
    with pytest.raises(DataError, match="may not start"):
        load_catalog([("gold:x", a), ("b", b)], videos)


def test_video_outside_the_folder_is_not_used(tmp_path):
    videos = _files(tmp_path)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"x")
    rows = [{"id": "zz", "video": str(outside), "caption": "c", "error": None},
            {"id": "v1", "caption": "c", "error": None}]
    cat = load_catalog([("a", _caps(tmp_path / "a.jsonl", rows)), ("b", _caps(tmp_path / "b.jsonl", rows))], videos)
    assert "zz" not in cat.videos  # outside.mp4 is not inside DIR and DIR/outside.mp4 does not exist


def test_gold_file(tmp_path):
    videos = _files(tmp_path)
    rows = [{"id": "v1", "caption": "c", "error": None}]
    gold = _caps(tmp_path / "gold.jsonl", [
        {"id": "v2", "video": str(videos / "v2.mp4"), "better": "good", "worse": "bad"},
        {"id": "v3", "better": "same", "worse": "same"},
        {"id": "v9", "better": "x", "worse": "y"},
    ])
    cat = load_catalog([("a", _caps(tmp_path / "a.jsonl", rows)), ("b", _caps(tmp_path / "b.jsonl", rows))],
                       videos, gold)
    assert list(cat.gold) == ["v2"] and cat.gold["v2"].better == "good"
    assert cat.media_path("v2.mp4") is not None
    assert sum("skipped" in w for w in cat.warnings) == 2


def test_caption_file_defects_are_listed_not_fatal(tmp_path):
    videos = _files(tmp_path)
    a = tmp_path / "a.jsonl"
    a.write_bytes(b'\xef\xbb\xbf{"id": "v1", "caption": "fine", "error": null}\n{broken\n'
                  b'{"id": "v2", "caption": "also fine", "error": null}\n')
    b = tmp_path / "b.json"  # a JSON list is read as well
    b.write_text(json.dumps([{"id": "v1", "caption": "x", "error": None}, {"id": "v2", "caption": "y", "error": None}]))
    cat = load_catalog([("a", a), ("b", b)], videos)
    assert cat.pair_videos() == {("a", "b"): ["v1", "v2"]}
    assert any(f"{a}:2: invalid JSON" in w for w in cat.warnings)
