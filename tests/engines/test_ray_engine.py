"""``avcap caption --engine ray`` on a local CPU Ray: killed and resumed, greedy parity with the local
engine, error rows. Ray costs seconds to start, so the in-process tests share one Ray per module
(the engine reuses a Ray it did not start); the kill test must run the CLI as its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avcap.engines import CaptionerSpec
from avcap.engines.ray import RayOptions, run_ray
from avcap.models import GenerationConfig
from avcap.models.captioning import CaptionRunConfig, collect_items, run_captioning
from avcap.synth.sample import SampleVideoSpec, write_sample_video

MODEL = "builtin:nano"
REPO = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Videos of 1-3 s (one with no audio stream) and a corrupt file."""
    root = tmp_path_factory.mktemp("corpus")
    for i in range(6):
        spec = SampleVideoSpec(duration_s=1.0 + i % 3, fps=4, width=48, height=32,
                               audio_rate_hz=None if i == 2 else 16_000, seed=i)
        write_sample_video(root / f"v{i}.mp4", spec)
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    return root


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=4, num_gpus=0, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_a_killed_two_replica_run_resumes_without_duplicates_or_losses(ray_cluster, tmp_path):
    """SIGKILL the CLI while its two replicas caption; the re-run finishes every (id, sample) once."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(24):
        write_sample_video(root / f"m{i:02d}.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=48, height=32, seed=i))
    out = tmp_path / "captions.jsonl"
    cmd = [sys.executable, "-m", "avcap.cli", "caption", str(root), "-m", MODEL, "-o", str(out), "--engine", "ray",
           "--replicas", "2", "--no-progress", "--max-new-tokens", "24"]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_bytes().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = _rows(out)
    assert 2 <= len(before) < 24, f"killed after {len(before)} rows: not mid-run"
    # The resume runs in this process on the module's Ray (the same code path as the CLI's, one Ray start less).
    items, _ = collect_items([root])
    done = run_ray(CaptionerSpec(model=MODEL), items, CaptionRunConfig(
        out=out, progress=False, generation=GenerationConfig(max_new_tokens=24)), RayOptions(replicas=2))
    after = _rows(out)
    keys = [(r["id"], r["sample"]) for r in after]
    assert len(keys) == len(set(keys)) == 24  # none twice, none lost
    assert {r["id"] for r in before} <= set(k for k, _ in keys) and all(r["error"] is None for r in after)
    assert after[:len(before)] == before  # the first run's rows are kept as written
    assert (done.captioned, done.skipped, done.failed) == (24 - len(before), len(before), 0)


def test_greedy_rows_match_the_local_engine_and_a_corrupt_file_is_an_error_row(ray_cluster, corpus, tmp_path):
    items, _ = collect_items([corpus])
    spec = CaptionerSpec(model=MODEL, device="cpu")
    captioner, policy = spec.load()
    local = run_captioning(captioner, items, CaptionRunConfig(out=tmp_path / "local.jsonl", batch_size=2,
                                                              progress=False, frames=policy))
    summary = run_ray(spec, items, CaptionRunConfig(out=tmp_path / "ray.jsonl", batch_size=2, progress=False),
                      RayOptions(replicas=2))
    assert (summary.captioned, summary.failed) == (local.captioned, local.failed) == (6, 1)
    by_key = {(r["id"], r["sample"]): r for r in _rows(tmp_path / "local.jsonl")}
    ray_rows = {(r["id"], r["sample"]): r for r in _rows(tmp_path / "ray.jsonl")}
    assert ray_rows.keys() == by_key.keys()
    for key, row in by_key.items():
        other = ray_rows[key]
        assert {k: v for k, v in other.items() if k != "seconds"} == {k: v for k, v in row.items() if k != "seconds"}
    bad = ray_rows[("corrupt.mp4", 0)]
    assert bad["caption"] is None and "corrupt.mp4" in bad["error"] and "\n" not in bad["error"]
    assert ray_rows[("v2.mp4", 0)]["audit"]["has_audio_stream"] is False  # the audit travels too
    assert summary.failures == [("corrupt.mp4", bad["error"])]

    # Resume: nothing left but the error row, which is retried (and fails again) -- no duplicates.
    again = run_ray(spec, items, CaptionRunConfig(out=tmp_path / "ray.jsonl", batch_size=2, progress=False),
                    RayOptions(replicas=1))
    assert (again.captioned, again.skipped, again.failed) == (0, 6, 1)
    assert len(_rows(tmp_path / "ray.jsonl")) == 7


def test_a_resume_with_other_settings_is_refused_before_any_work(ray_cluster, corpus, tmp_path):
    from avcap.errors import ConfigError

    items, _ = collect_items([corpus / "v0.mp4"])
    spec = CaptionerSpec(model=MODEL, device="cpu")
    out = tmp_path / "c.jsonl"
    run_ray(spec, items, CaptionRunConfig(out=out, progress=False), RayOptions())
    with pytest.raises(ConfigError, match="max_new_tokens"):
        run_ray(spec, items, CaptionRunConfig(out=out, progress=False,
                                              generation=GenerationConfig(max_new_tokens=3)), RayOptions())
    assert len(_rows(out)) == 1


def test_without_ray_the_command_says_how_to_install_it(corpus, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from avcap.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = CliRunner().invoke(app, ["caption", str(corpus / "v0.mp4"), "-m", MODEL, "-o", str(tmp_path / "c.jsonl"),
                                      "--engine", "ray"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --engine ray needs the 'ray' package, which is not installed: pip install 'avcap[ray]'"]


def test_ray_flags_without_the_ray_engine_are_refused(corpus, tmp_path):
    from typer.testing import CliRunner

    from avcap.cli import app

    result = CliRunner().invoke(app, ["caption", str(corpus / "v0.mp4"), "-m", MODEL, "--replicas", "2"])
    assert result.exit_code == 2 and "--replicas applies to --engine ray" in result.output
