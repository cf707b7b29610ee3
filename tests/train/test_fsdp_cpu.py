"""FSDP2 on 2 CPU processes (gloo), through the shipped configs and both launchers.

accelerate turns FSDP on only for GPU process groups; ``AvcapTrainer`` turns it on for CPU
ones too, so these runs really shard (the report says ``FSDP``, not ``MULTI_CPU`` = DDP).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from avcap.train.objectives import LN2
from avcap.train.recipes import run_recipe

from .test_distributed import _free_port, _losses

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _config(tmp_path: Path, data: Path, out: Path) -> Path:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "data": str(data), "output_dir": str(out), "model": {"name": "tiny:salmonn2", "device": "cpu"},
        "lora": {"r": 4, "dropout": 0.0}, "disable_dropout": True,
        "optim": {"max_steps": 2, "batch_size": 1, "learning_rate": 1e-3, "warmup_ratio": 0.0, "save_steps": 0},
    }))
    return config


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _assert_loads(model_dir: Path) -> None:
    from avcap.models import load_captioner

    cap = load_captioner(str(model_dir), device="cpu")
    assert any(p.numel() for p in cap.model.parameters())


def test_torchrun_fsdp_sft_equals_one_process_with_doubled_batch(tiny_model, data_dir, tmp_path):
    config = _config(tmp_path, data_dir / "train2.jsonl", tmp_path / "fsdp")
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
          "--master_port", str(_free_port()), "-m", "avcap.train", "sft", "--config", str(config),
          "--optim.fsdp", "full_shard auto_wrap", "--optim.fsdp_config", str(CONFIGS / "fsdp.json")])
    report = json.loads((tmp_path / "fsdp" / "report.json").read_text())
    assert report["world_size"] == 2 and report["train"]["distributed_type"] == "FSDP"

    run_recipe("sft", config, ["--output_dir", str(tmp_path / "single"), "--optim.batch_size", "2"])
    fsdp, single = _losses(tmp_path / "fsdp"), _losses(tmp_path / "single")
    assert len(fsdp) == len(single) == 2
    assert fsdp == pytest.approx(single, rel=1e-4)  # step 2 also checks the reduce-scattered gradient of step 1
    a = load_file(str(tmp_path / "fsdp" / "trained" / "model.safetensors"))  # gathered from the shards
    b = load_file(str(tmp_path / "single" / "trained" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    _assert_loads(tmp_path / "fsdp" / "model")


def test_accelerate_launch_fsdp_dpo(tiny_model, data_dir, tmp_path):
    # The shipped accelerate config, with its GPU settings swapped for 2 CPU processes. use_cpu must
    # come from the file: `accelerate launch --cpu` starts a single process for FSDP configs.
    launch = yaml.safe_load((CONFIGS / "accelerate_fsdp.yaml").read_text())
    assert launch["distributed_type"] == "FSDP"
    launch.update(use_cpu=True, mixed_precision="no", num_processes=2)
    (tmp_path / "accelerate.yaml").write_text(yaml.safe_dump(launch))
    config = _config(tmp_path, data_dir / "pref.jsonl", tmp_path / "dpo")
    _run([sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(tmp_path / "accelerate.yaml"),
          "--main_process_port", str(_free_port()), "-m", "avcap.train", "dpo", "--config", str(config),
          "--train_aligner", "false"])  # FSDP shards the aligner: no round-start copy for the reference
    report = json.loads((tmp_path / "dpo" / "report.json").read_text())
    assert report["world_size"] == 2 and report["train"]["distributed_type"] == "FSDP"
    assert report["train"]["first_step"]["dpo_loss"] == pytest.approx(LN2, abs=1e-5)  # adapter-off reference
    losses = _losses(tmp_path / "dpo")
    assert len(losses) == 2 and report["train"]["finite"] and losses[1] < losses[0]
    _assert_loads(tmp_path / "dpo" / "model")
