"""`avcap eval` carries the caption rows' modality audit: per-set counts, per-item lines, --audit-filter."""

import json

from typer.testing import CliRunner

from avcap.cli import app

from .conftest import write_jsonl

HEARD = {"audio_seconds_fed": 3.0, "video_seconds_fed": 3.0, "frames": 3, "audio_tokens": 60, "visual_tokens": 12,
         "truncated": False, "no_audio_fed": False, "frames_capped": False, "audio_cut": False, "policy": "salmonn2"}
DEAF = {**HEARD, "audio_seconds_fed": 0.0, "audio_tokens": 0, "no_audio_fed": True}
CUT = {**HEARD, "truncated": True, "audio_cut": True}


def _captions(bench_files, tmp_path):
    data, _, caps_b = bench_files
    rows = [json.loads(line) for line in caps_b.read_text().splitlines()]
    for row, audit in zip(rows, [HEARD, DEAF, CUT, None]):  # v4: a row written before the audit existed
        row["audit"] = audit
    return data, write_jsonl(tmp_path / "audited.jsonl", rows)


def test_the_report_counts_the_audit_and_shows_it_per_item(bench_files, tmp_path):
    data, caps = _captions(bench_files, tmp_path)
    result = CliRunner().invoke(app, ["eval", "--data", str(data), "--captions", str(caps), "--judge", "scripted",
                                      "--metrics", "repetition", "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    audit = report["caption_sets"][0]["audit"]
    assert (audit["rows"], audit["no_audio_fed"], audit["truncated"], audit["audio_cut"], audit["unaudited"]) == (3, 1, 1, 1, 1)
    v2 = next(it for it in report["items"] if it["id"] == "v2")
    assert v2["captions"]["audited"]["audit"]["no_audio_fed"] is True
    html = (tmp_path / "o" / "report.html").read_text()
    assert "Modality audit" in html and "fed: 0 s audio" in html and "no audio fed" in html


def test_audit_filter_keeps_only_the_items_that_pass(bench_files, tmp_path):
    data, caps = _captions(bench_files, tmp_path)
    for name, kept in (("fed_audio", {"v1", "v3"}), ("complete", {"v1"}), ("no_audio_fed", {"v2"}),
                       ("truncated", {"v3"})):
        out = tmp_path / name
        result = CliRunner().invoke(app, ["eval", "--data", str(data), "--captions", str(caps), "--judge", "scripted",
                                          "--metrics", "repetition", "--out", str(out), "--no-progress",
                                          "--audit-filter", name])
        assert result.exit_code == 0, result.output
        report = json.loads((out / "report.json").read_text())
        assert {it["id"] for it in report["items"]} == kept, name
        assert report["params"]["audit_filter"] == name and report["params"]["audit_filtered_out"] == 4 - len(kept)
    bad = CliRunner().invoke(app, ["eval", "--data", str(data), "--captions", str(caps), "--judge", "scripted",
                                   "--out", str(tmp_path / "x"), "--audit-filter", "loud"])
    assert bad.exit_code == 2 and "--audit-filter 'loud': choose from fed_audio" in bad.output
