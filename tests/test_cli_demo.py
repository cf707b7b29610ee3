import json
import re
from pathlib import Path

from typer.testing import CliRunner

from avcap.cli import app
from avcap.eval.listen import captions_recall


def test_demo_captions_with_the_shipped_model_judges_reports_and_resumes(tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "d"
    result = runner.invoke(app, ["demo", "--out", str(out), "--n", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "2 synthetic videos" in result.output and "2 rendered now" in result.output
    assert "captioned with builtin:nano: 2 new, 0 kept, 0 failed" in result.output
    assert "captioned with builtin:nano, sound muted: 2 new, 0 kept, 0 failed" in result.output
    assert "synth_s0_00000" in result.output and "all (pooled)" in result.output
    captions = [json.loads(line) for line in (out / "captions.jsonl").read_text().splitlines()]
    assert len(captions) == 2 and all(c["error"] is None and c["caption"].strip() for c in captions)
    report = json.loads((out / "report" / "report.json").read_text())
    salmonn2 = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert salmonn2["n_scored"] == 2 and report["params"]["judge"]["backend"] == "symbolic"
    assert f"{salmonn2['total']:.1%}" in result.output  # the pooled row is the report's number
    assert (out / "report" / "report.html").read_text().lower().startswith("<!doctype html>")
    assert [c["name"] for c in report["caption_sets"]] == ["captions", "captions_muted"]
    muted = [json.loads(line) for line in (out / "captions_muted.jsonl").read_text().splitlines()]
    assert len(muted) == 2 and all(c["generation"]["audio"] == "muted" for c in muted)
    assert_listen_lines(result.output, out)
    # Resume, with the sound captions replaced by the exact ones: the with-sound column must then be
    # 100 % for every kind present and the muted column stay the model's (the two are not swapped).
    rows = {r["id"]: r for r in json.loads((out / "demo.json").read_text())}
    exact = [{**c, "caption": rows[c["id"]]["conversations"][1]["value"]} for c in captions]
    (out / "captions.jsonl").write_text("".join(json.dumps(c) + "\n" for c in exact))
    again = runner.invoke(app, ["demo", "--out", str(out), "--n", "2", "--no-progress"])
    assert again.exit_code == 0 and "0 rendered now" in again.output
    assert again.output.count("0 new, 2 kept") == 2  # both caption files resume
    assert_listen_lines(again.output, out)
    listen = json.loads((out / "listen.json").read_text())
    assert all(r["recall"] in (None, 1.0) for r in listen["with_sound"]["recall"].values())
    assert "sound events recalled: 100% with sound" in again.output


def assert_listen_lines(output: str, out: Path) -> None:
    """The sound-on vs muted recall table: every sound kind, the pools, numbers in [0, 1] from listen.json."""
    listen = json.loads((out / "listen.json").read_text())
    assert "5. does it listen?" in output
    rows = json.loads((out / "demo.json").read_text())
    assert listen["muted"] == captions_recall(rows, out / "captions_muted.jsonl")  # not swapped with sound
    assert listen["with_sound"] == captions_recall(rows, out / "captions.jsonl")
    for condition in ("with_sound", "muted"):
        assert listen[condition]["videos"] == 2 and listen[condition]["failed"] == 0
        for group, r in listen[condition]["recall"].items():
            assert r["n"] == listen["with_sound"]["recall"][group]["n"]  # the same videos both ways
            assert r["recall"] is None or 0.0 <= r["recall"] <= 1.0
    for label, group in (("tone", "tone"), ("beep", "beep"), ("noise", "noise"), ("bang", "bang"),
                         ("speech", "speech"), ("all sounds", "sound"), ("all visual", "visual")):
        table = output[output.index("5. does it listen?"):]
        line = next(x for x in table.splitlines() if x.startswith(f"│ {label} "))
        cells = [c.strip() for c in line.split("│")[1:-1]]
        assert int(cells[1]) == listen["with_sound"]["recall"][group]["n"], line
        for cell, condition in zip(cells[2:], ("with_sound", "muted")):
            value = listen[condition]["recall"][group]["recall"]
            assert cell == ("-" if value is None else f"{value:.0%}"), line
    summary = next(x for x in output.splitlines() if x.startswith("sound events recalled:"))
    numbers = [int(v) / 100 for v in re.findall(r"(\d+)% ", summary + " ")]
    assert len(numbers) == 4 and all(0.0 <= v <= 1.0 for v in numbers), summary


def test_demo_without_the_muted_pass_prints_no_listen_table(tmp_path: Path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--n", "1", "--no-muted", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "sound muted" not in result.output and "does it listen" not in result.output
    assert not (tmp_path / "d" / "captions_muted.jsonl").exists() and not (tmp_path / "d" / "listen.json").exists()


def test_demo_reports_a_missing_model_in_one_line(tmp_path: Path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--n", "1", "--model",
                                      str(tmp_path / "nope"), "--no-progress"])
    assert result.exit_code == 1 and "demo:" in result.output and "nope" in result.output


def test_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "media", "synth", "caption", "eval", "train"):
        assert command in result.output
