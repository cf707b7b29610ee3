from pathlib import Path

from typer.testing import CliRunner

from avcap.cli import app


def test_demo_runs_offline_and_resumes(tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--n", "2"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 synthetic videos" in result.output and "2 rendered" in result.output
    assert result.output.count("Whisper chunk(s)") == 2
    assert (tmp_path / "d" / "demo.json").is_file()
    again = runner.invoke(app, ["demo", "--out", str(tmp_path / "d"), "--n", "2"])
    assert again.exit_code == 0 and "0 rendered, 2 kept" in again.output


def test_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "media", "synth", "caption", "eval"):
        assert command in result.output
