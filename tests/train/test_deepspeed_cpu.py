"""DeepSpeed ZeRO-2/3 through the shipped config files, on 2 CPU processes (gloo).

Opt-in (``pytest -m slow``) and needs ``pip install 'avcap[deepspeed]'``: DeepSpeed ships as a
source package, and its first CPU run compiles a small C++ communication op (about a minute,
needs g++ and ninja), so it stays out of the default suite. Verified with deepspeed 0.19.8.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors.torch import load_file

from avcap.train.recipes import run_recipe

from .test_distributed import _free_port, _losses
from .test_fsdp_cpu import CONFIGS, ENV, _assert_loads, _config, _run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("zero", ["ds_zero2.json", "ds_zero3.json"])
def test_torchrun_deepspeed_sft_equals_one_process_with_doubled_batch(zero, tiny_model, data_dir, tmp_path, monkeypatch):
    import deepspeed  # noqa: F401  (fail loudly, not skip, when this opt-in test runs without it)

    monkeypatch.setitem(ENV, "DS_ACCELERATOR", "cpu")
    out = tmp_path / "zero"
    config = _config(tmp_path, data_dir / "train2.jsonl", out)
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
          "--master_port", str(_free_port()), "-m", "avcap.train", "sft", "--config", str(config),
          "--optim.deepspeed", str(CONFIGS / zero)])
    report = json.loads((out / "report.json").read_text())
    assert report["world_size"] == 2 and report["train"]["distributed_type"] == "DEEPSPEED"

    run_recipe("sft", config, ["--output_dir", str(tmp_path / "single"), "--optim.batch_size", "2"])
    assert _losses(out) == pytest.approx(_losses(tmp_path / "single"), rel=1e-4)
    a = load_file(str(out / "trained" / "model.safetensors"))
    b = load_file(str(tmp_path / "single" / "trained" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    _assert_loads(out / "model")

