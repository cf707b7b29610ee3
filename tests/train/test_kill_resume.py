"""A real training process killed (SIGKILL) mid-step, mid-save and mid-merge: every re-run resumes
from the newest complete checkpoint, never trains past max_steps, and a finished run stays finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from .test_recipes import run_cli

# Runs `avcap ARGS...` in a fresh process that SIGKILLs itself at one moment of training:
#   step N  — inside the loss computation of optimizer step N+1 (mid-step)
#   save N  — while checkpoint-N is being written: weights saved, optimizer and state not yet
#   merge   — after training, while the merged model is being built
DRIVER = textwrap.dedent("""
    import os, signal, sys
    from avcap.train import trainer as T
    from avcap.train.recipes import common as C
    mode, at = sys.argv[1], int(sys.argv[2])
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    if mode == "step":
        compute = T.AvcapTrainer.compute_loss
        def compute_loss(self, *a, **k):
            if self.state.global_step == at:
                die()
            return compute(self, *a, **k)
        T.AvcapTrainer.compute_loss = compute_loss
    elif mode == "save":
        save_rest = T.AvcapTrainer._save_optimizer_and_scheduler
        def save_optimizer_and_scheduler(self, output_dir):
            if self.state.global_step == at:
                die()
            return save_rest(self, output_dir)
        T.AvcapTrainer._save_optimizer_and_scheduler = save_optimizer_and_scheduler
    else:
        C.merge_to_checkpoint = lambda *a, **k: die()
    from avcap.cli import main
    sys.argv = ["avcap", *sys.argv[3:]]
    main()
""")


def _killed_run(args: list[str], mode: str, at: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", DRIVER, mode, str(at), *args], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    return proc


def test_killed_at_any_moment_the_next_run_resumes_and_a_finished_run_stays_finished(tiny_model, data_dir, tmp_path):
    out = tmp_path / "sft"
    args = ["train", "sft", "--data", str(data_dir / "train.jsonl"), "--output_dir", str(out), "--model.name",
            tiny_model, "--lora.r", "4", "--optim.max_steps", "6", "--optim.save_steps", "2", "--optim.batch_size",
            "1", "--optim.save_total_limit", "0", "--optim.learning_rate", "1e-3", "--optim.warmup_ratio", "0"]
    ckpts = out / "checkpoints"

    _killed_run(args, "step", at=3)  # killed inside step 4: checkpoint-2 is the newest one
    assert sorted(p.name for p in ckpts.iterdir() if p.name.startswith("checkpoint-")) == ["checkpoint-2"]

    # Leftovers of older versions: an empty checkpoint and one holding only its weights.
    (ckpts / "checkpoint-9").mkdir()
    (ckpts / "checkpoint-8").mkdir()
    (ckpts / "checkpoint-8" / "model.safetensors").write_bytes(b"")
    saving = _killed_run(args, "save", at=4)  # resumed from 2, killed while writing checkpoint-4
    assert "skipping incomplete checkpoint" in saving.stderr and "checkpoint-9" in saving.stderr
    assert "checkpoint-8" in saving.stderr and "trainer_state.json" in saving.stderr
    assert not (ckpts / "checkpoint-4").exists()  # never visible half-written
    assert (ckpts / ".staging" / "checkpoint-4" / "model.safetensors").is_file()

    _killed_run(args, "merge")  # trained to step 6 and checkpointed, killed while merging
    assert (ckpts / "checkpoint-6" / "trainer_state.json").is_file() and not (out / "model").exists()
    assert not (ckpts / ".staging").exists()

    resumed = run_cli(*args[1:])  # in this process: resumes at max_steps, trains nothing more
    report = json.loads((out / "report.json").read_text())
    assert report["train"]["global_step"] == 6 and report["train"]["resumed_from"].endswith("checkpoint-6")
    assert not (ckpts / "checkpoint-7").exists() and "done" in resumed.output

    model_files = {p.name: p.stat().st_mtime_ns for p in (out / "model").iterdir()}
    again = run_cli(*args[1:])
    assert "already finished" in again.output
    assert json.loads((out / "report.json").read_text())["train"]["global_step"] == 6
    assert {p.name: p.stat().st_mtime_ns for p in (out / "model").iterdir()} == model_files  # not rewritten


def test_last_checkpoint_takes_the_newest_complete_one(tmp_path, caplog):
    from avcap.train.trainer import last_checkpoint

    for step, files in ((1, ["trainer_state.json", "model.safetensors"]), (3, ["trainer_state.json", "model.safetensors"]),
                        (5, ["model.safetensors"]), (7, [])):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in files:
            (folder / name).write_text("{}")
    (tmp_path / ".staging" / "checkpoint-9").mkdir(parents=True)
    (tmp_path / "checkpoint-x").mkdir()
    with caplog.at_level("WARNING", logger="avcap.train"):
        assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-3")
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping incomplete checkpoint {tmp_path / 'checkpoint-7'} (no trainer_state.json)",
        f"skipping incomplete checkpoint {tmp_path / 'checkpoint-5'} (no trainer_state.json)"]
    assert not (tmp_path / ".staging").exists()
    assert last_checkpoint(tmp_path / "none") is None and last_checkpoint(Path(tmp_path / "checkpoint-7")) is None
