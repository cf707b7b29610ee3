"""caption, eval and train read a dataset file the same way: same rows kept, same errors, same words."""

import json
import logging

import pytest

from avcap.eval.loaders import load_benchmark
from avcap.models.captioning import collect_items
from avcap.train.data import load_rows

ROW = {"conversations": [{"from": "human", "value": "<video>\nDescribe."}, {"from": "gpt", "value": "A square."}],
       "events": ["A square appears."]}


def _row(i: int) -> dict:
    return {"id": f"v{i}", "video": f"v{i}.mp4", **ROW}


DEFECTS = {
    "bom_list": b"\xef\xbb\xbf" + json.dumps([_row(0), _row(1)]).encode(),
    "bom_lines": b"\xef\xbb\xbf" + (json.dumps(_row(0)) + "\n" + json.dumps(_row(1)) + "\n").encode(),
    "broken_line": (json.dumps(_row(0)) + '\n{"id": "x",\n' + json.dumps(_row(1)) + "\n").encode(),
    "trailing_comma": ("[" + json.dumps(_row(0)) + ",\n" + json.dumps(_row(1)) + ",\n]").encode(),
    "not_utf8": (json.dumps(_row(0)) + "\n").encode() + b'{"id": "caf\xe9", "video": "x.mp4"}\n'
                + (json.dumps(_row(1)) + "\n").encode(),
    "torn_last_line": (json.dumps(_row(0)) + "\n" + json.dumps(_row(1)) + "\n" + json.dumps(_row(2))[:20]).encode(),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_every_command_keeps_the_same_rows_and_reports_the_same_defects(tmp_path, defect, suffix, caplog):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(DEFECTS[defect])

    items, caption_warnings = collect_items([path])
    bench = load_benchmark(path)
    with caplog.at_level(logging.WARNING, logger="avcap.train"):
        train_rows = load_rows(path, what="training")
    train_warnings = [r.getMessage().removeprefix("skipped training row: ") for r in caplog.records]

    assert [it.id for it in items] == [r.id for r in bench.rows] == [r.id for r in train_rows] == ["v0", "v1"]
    assert caption_warnings == [str(e) for e in bench.errors] == train_warnings
    if defect.startswith("bom") or defect == "trailing_comma":
        assert caption_warnings == []
    else:
        (warning,) = caption_warnings
        cause = {"broken_line": ":2: invalid JSON", "not_utf8": ":2: not UTF-8 (byte 0xe9",
                 "torn_last_line": ":3: invalid JSON"}[defect]
        assert warning.startswith(str(path)) and cause in warning, warning
