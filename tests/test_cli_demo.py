import json
from pathlib import Path

from typer.testing import CliRunner

from avcap.cli import app


def test_demo_captions_with_the_shipped_model_judges_reports_and_resumes(tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "d"
    result = runner.invoke(app, ["demo", "--out", str(out), "--n", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "2 synthetic videos" in result.output and "2 rendered now" in result.output
    assert "captioned with builtin:nano: 2 new, 0 kept, 0 failed" in result.output
    assert "synth_s0_00000" in result.output and "all (pooled)" in result.output
    captions = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(captions) == 2 and all(c["error"] is None and c["caption"].strip() for c in captions)
    report = json.loads((out / "report" / "report.json").read_text())
    salmonn2 = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert salmonn2["n_scored"] == 2 and report["params"]["judge"]["backend"] == "symbolic"
    assert f"{salmonn2['total']:.1%}" in result.output  # the pooled row is the report's number
    assert (out / "report" / "report.html").read_text().lower().startswith("<!doctype html>")
    again = runner.invoke(app, ["demo", "--out", str(out), "--n", "2", "--no-progress"])
    assert again.exit_code == 0 and "0 rendered now" in again.output and "0 new, 2 kept" in again.output


def test_demo_reports_a_missing_model_in_one_line(tmp_path: Path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--n", "1", "--model",
                                      str(tmp_path / "nope"), "--no-progress"])
    assert result.exit_code == 1 and "demo:" in result.output and "nope" in result.output


def test_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "media", "synth", "caption", "eval", "train"):
        assert command in result.output
