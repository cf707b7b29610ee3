"""The README's offline training run works as written: each command of its marked block, in order."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from avcap.cli import app

ROOT = Path(__file__).resolve().parents[1]


def readme_commands(name: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {name}: begin -->\n```bash\n(.*?)```\n<!-- {name}: end -->", text, re.S)
    assert block, f"README has no {name} block"
    joined = block.group(1).replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_the_offline_training_run_of_the_readme(tmp_path, monkeypatch):
    (tmp_path / "configs").symlink_to(ROOT / "configs")  # the commands name configs/nano/...
    monkeypatch.chdir(tmp_path)
    commands = readme_commands("offline-train")
    assert [c[:3] for c in commands][:2] == [["avcap", "synth", "dataset"], ["avcap", "train", "sft"]]
    for command in commands:
        assert command[0] == "avcap"
        result = CliRunner().invoke(app, command[1:])
        assert result.exit_code == 0, f"{shlex.join(command)}\n{result.output}"
    assert (tmp_path / "runs/quick/sft/model/config.json").is_file()
    assert (tmp_path / "runs/quick/report/report.json").is_file()
    again = CliRunner().invoke(app, commands[1][1:])  # a finished run stays finished
    assert again.exit_code == 0 and "already finished" in again.output
