"""Data parallelism: 2 CPU processes (gloo) under torchrun == 1 process with the doubled batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from avcap.train.recipes import run_recipe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(out) -> list[float]:
    report = json.loads((out / "report.json").read_text())
    return [h["loss"] for h in report["train"]["log_history"] if "loss" in h]


def test_two_process_sft_equals_one_process_with_doubled_batch(tiny_model, data_dir, tmp_path):
    config = tmp_path / "sft.yaml"
    config.write_text(yaml.safe_dump({
        "data": str(data_dir / "train2.jsonl"), "output_dir": str(tmp_path / "ddp"),
        "model": {"name": tiny_model, "device": "cpu"}, "lora": {"r": 4, "dropout": 0.0},
        "disable_dropout": True,  # dropout masks (Q-Former, LoRA) would differ between the two set-ups
        "optim": {"max_steps": 2, "batch_size": 1, "learning_rate": 1e-3, "warmup_ratio": 0.0, "save_steps": 0},
    }))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "avcap.train", "sft", "--config", str(config)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "ddp" / "report.json").read_text())
    assert report["world_size"] == 2

    run_recipe("sft", config, ["--output_dir", str(tmp_path / "single"), "--optim.batch_size", "2"])
    assert json.loads((tmp_path / "single" / "report.json").read_text())["world_size"] == 1

    ddp, single = _losses(tmp_path / "ddp"), _losses(tmp_path / "single")
    assert len(ddp) == len(single) == 2
    assert ddp == pytest.approx(single, rel=1e-4)  # step 2 also checks the averaged gradient of step 1
    a = load_file(str(tmp_path / "ddp" / "trained" / "model.safetensors"))
    b = load_file(str(tmp_path / "single" / "trained" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
