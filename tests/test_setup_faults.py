"""Set-up faults (no CUDA device, a missing optional package) give one line and exit 2, never a traceback."""

import sys

import pytest
import torch
from typer.testing import CliRunner

from avcap.cli import app
from avcap.errors import MissingDependencyError, require


@pytest.fixture
def clip(tmp_path):
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    return write_sample_video(tmp_path / "c.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=64, height=48))


def _one_error_line(result) -> str:
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_caption_on_a_missing_cuda_device(clip, tmp_path, monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(app, ["caption", str(clip), "-m", "tiny:omni", "--device", device,
                                      "-o", str(tmp_path / "c.jsonl"), "--no-progress"])
    assert result.exit_code == 2
    assert "no CUDA device is available" in _one_error_line(result)


def test_a_device_name_that_is_not_one(clip, tmp_path):
    result = CliRunner().invoke(app, ["caption", str(clip), "-m", "tiny:omni", "--device", "gpu0",
                                      "-o", str(tmp_path / "c.jsonl"), "--no-progress"])
    assert result.exit_code == 2 and "expected auto, cpu, cuda or cuda:N" in _one_error_line(result)


def test_training_without_peft(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # what an install without the train extra looks like
    result = CliRunner().invoke(app, ["train", "sft", "--data", "x.json", "--output_dir", str(tmp_path / "o")])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "needs the 'peft' package" in line and "pip install 'avcap[train]'" in line


def test_require_names_the_extra():
    assert require("json", "x", "y").dumps([]) == "[]"
    with pytest.raises(MissingDependencyError, match=r"ray needs the 'no_such_module_x' package.*avcap\[scale\]"):
        require("no_such_module_x", "scale", "ray")
