import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avcap.data import JsonlAppender, atomic_write_json, iter_jsonl
from avcap.errors import DataError


def test_append_flushes_each_row_and_resume_skips_done(tmp_path: Path):
    path = tmp_path / "out" / "captions.jsonl"
    with JsonlAppender(path) as out:
        out.append({"id": "a", "caption": "x"})
        # Visible on disk before close: a killed run keeps it.
        assert json.loads(path.read_text().splitlines()[0])["id"] == "a"
        out.append({"id": "a", "sample": 1, "caption": "y"})
    with JsonlAppender(path) as out:
        assert out.done == {("a", 0), ("a", 1)}
        out.append({"id": "b", "caption": "z"})
    assert [row["id"] for _, row in iter_jsonl(path)] == ["a", "a", "b"]


def test_truncated_last_line_from_killed_run_is_dropped(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "caption": "ok"}\n{"id": "b", "capt')
    assert [row["id"] for _, row in iter_jsonl(path)] == ["a"]
    with JsonlAppender(path) as out:
        assert out.done == {("a", 0)}
        out.append({"id": "b", "caption": "done"})
    assert [row["id"] for _, row in iter_jsonl(path)] == ["a", "b"]
    assert path.read_text().count("\n") == 2


def test_complete_last_line_without_newline_is_kept(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}')
    with JsonlAppender(path) as out:
        assert out.done == {("a", 0), ("b", 0)}
        out.append({"id": "c"})
    assert [row["id"] for _, row in iter_jsonl(path)] == ["a", "b", "c"]


def test_skip_row_lets_failed_items_be_retried(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "error": "boom"}\n{"id": "b", "error": null}\n')
    with JsonlAppender(path, skip_row=lambda r: r.get("error") is not None) as out:
        assert out.done == {("b", 0)}


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path: Path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a"}\n{oops\n{"id": "b"}\n')
    with pytest.raises(DataError, match=r"c.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))


def test_kill_during_run_then_resume_without_duplicates(tmp_path: Path):
    """A writer process killed with SIGKILL mid-run; the restart neither redoes nor duplicates rows."""
    path = tmp_path / "c.jsonl"
    script = f"""
import os, signal
from avcap.data import JsonlAppender
with JsonlAppender({str(path)!r}) as out:
    for i in range(10):
        if i == 6:
            out._file.write('{{"id": "6", "capt')  # half a line, as a kill mid-write leaves
            out._file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        out.append({{"id": str(i)}})
"""
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True)
    assert proc.returncode != 0
    with JsonlAppender(path) as out:
        assert out.done == {(str(i), 0) for i in range(6)}
        for i in range(10):
            if (str(i), 0) not in out.done:
                out.append({"id": str(i)})
    ids = [row["id"] for _, row in iter_jsonl(path, tolerate_truncated_tail=False)]
    assert ids == [str(i) for i in range(10)]


def test_atomic_write_json_replaces_whole_file(tmp_path: Path):
    path = tmp_path / "r" / "report.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_atomic_write_uses_normal_file_permissions(tmp_path: Path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_output_lock_is_exclusive_across_processes_and_reentrant_within_one(tmp_path):
    import subprocess
    import sys

    from avcap.data.lock import OutputBusyError, OutputLock

    target = tmp_path / "captions.jsonl"
    probe = ("import sys; from avcap.data.lock import OutputLock, OutputBusyError\n"
             "try:\n    OutputLock(sys.argv[1]).__enter__()\nexcept OutputBusyError as e:\n    print(e); sys.exit(3)\n")
    with OutputLock(target):
        with OutputLock(target):  # the same process again: allowed
            pass
        busy = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, text=True)
        assert busy.returncode == 3 and "pid" in busy.stdout
    free = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, text=True)
    assert free.returncode == 0, free.stdout  # released when the outer block ended
    try:
        raise OutputBusyError("x")
    except OutputBusyError:
        pass
