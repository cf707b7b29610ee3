"""`avcap eval` end to end: against the local HTTP server, the scripted judge, and bad input."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from avcap.cli import app
from avcap.judge.testing import FakeOpenAIServer

from .conftest import write_json, write_jsonl

KEY = "sk-cli-SECRET-0000"
runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, ["eval", *map(str, args)], env=env)


def test_against_the_local_openai_compatible_server(bench_files, tmp_path, monkeypatch, caplog):
    data, caps_a, caps_b = bench_files
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level("DEBUG")
    with FakeOpenAIServer(api_key=KEY) as server:
        args = ["--data", data, "--captions", caps_a, "--compare", caps_b, "--judge", "openai", "--judge-model", "fake",
                "--judge-base-url", server.base_url, "--metrics", "salmonn2,autodq,repetition", "--judge-runs", "2",
                "--out", tmp_path / "out", "--no-progress", "--price-prompt", "2.5", "--price-completion", "10"]
        first = invoke(*args)
        assert first.exit_code == 0, first.output
        requests = server.requests
        second = invoke(*args)
        assert second.exit_code == 0 and server.requests == requests  # the re-run made no HTTP request
    assert "model_a: Miss" in first.output and "2 failed captions" in first.output and "model_b: Miss" in first.output
    assert "judge calls this run: 0 (" in second.output
    assert "skipped malformed row" in first.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["params"]["judge"]["backend"] == "openai" and report["tokens"]["cost_usd"] > 0
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!doctype html>")
    everything = first.output + second.output + "".join(r.getMessage() for r in caplog.records)
    everything += "".join(p.read_text(errors="replace") for p in (tmp_path / "out").glob("*.json"))
    assert KEY not in everything


def test_with_the_scripted_judge(bench_files, tmp_path):
    data, caps_a, caps_b = bench_files
    result = invoke("--data", data, "--captions", caps_b, "--judge", "scripted", "--metrics",
                    "salmonn2,autodq,checklist,dialogue,repetition", "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "model_b: Miss" in result.output and "AutoDQ" in result.output and "dialogue F1" in result.output
    assert (tmp_path / "o" / "report.html").exists() and (tmp_path / "o" / "judge_cache.sqlite").exists()


def test_help_teaches():
    result = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Examples:" in result.output and "--judge-base-url http://localhost:8000/v1" in result.output


@pytest.mark.parametrize("change, message", [
    ({"--data": "nope.json"}, "nope.json: data file not found"),
    ({"--captions": "nope.jsonl"}, "nope.jsonl: captions file not found"),
    ({"--metrics": "salmonn2,bleu"}, "unknown metric 'bleu'; choose from: salmonn2, autodq"),
    ({"--metrics": "qa"}, "metric 'qa' needs multiple-choice questions"),
    ({"--judge": "openai"}, "the openai judge needs an API key: set the OPENAI_API_KEY environment variable"),
    ({"--judge": "openai", "--judge-base-url": "http://127.0.0.1:9/v1"}, "the openai judge needs a model name (--judge-model)"),
    ({"--judge": "hf", "--judge-model": "no/such/folder"}, "cannot load judge model no/such/folder"),
    ({"--judge": "gpt"}, "unknown judge backend 'gpt'"),
    ({"--judge-runs": "0"}, "judge_runs must be >= 1"),
    ({"--concurrency": "0"}, "concurrency must be >= 1"),
])
def test_clear_one_line_errors(bench_files, tmp_path, monkeypatch, change, message):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    data, caps_a, _ = bench_files
    options = {"--data": data, "--captions": caps_a, "--judge": "scripted", "--metrics": "salmonn2", "--out": tmp_path / "o"}
    options.update(change)
    result = invoke(*[x for kv in options.items() for x in kv], "--no-progress")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("avcap eval: ") and message in lines[0], result.output


def test_malformed_data_rows_are_listed_and_the_good_rows_judged(tmp_path):
    data = tmp_path / "t.json"
    good = {"id": "a", "video": "a.mp4", "events": ["A red square appears."]}
    data.write_text("[" + json.dumps(good) + ',\n {"id": ')
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "caption": "A red square appears."}])
    result = invoke("--data", data, "--captions", caps, "--judge", "scripted", "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "skipped malformed row: " in result.output and "t.json:2: invalid JSON" in result.output
    assert "Miss 0.0%" in result.output
    only_bad = write_json(tmp_path / "bad.json", [{"id": "a"}])
    result = invoke("--data", only_bad, "--captions", caps, "--judge", "scripted", "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 2 and "no usable rows" in result.output and "neither 'video' nor 'audio'" in result.output


def _many_items(tmp_path, n=30):
    rows = [{"id": f"v{i}", "video": f"v{i}.mp4", "events": [f"A robot number {i} opens door {k}." for k in range(4)]}
            for i in range(n)]
    caps = [{"id": f"v{i}", "caption": f"A robot number {i} opens door 1. A cat sleeps.", "error": None} for i in range(n)]
    return write_json(tmp_path / "many.json", rows), write_jsonl(tmp_path / "many.jsonl", caps)


def test_a_run_killed_with_sigkill_resumes_without_losing_judgments(tmp_path):
    data, caps = _many_items(tmp_path)
    out = tmp_path / "killed"
    with FakeOpenAIServer(latency_s=0.05) as server:
        args = ["eval", "--data", data, "--captions", caps, "--judge", "openai", "--judge-model", "fake",
                "--judge-base-url", server.base_url, "--judge-runs", "2", "--concurrency", "2", "--out", out, "--no-progress"]
        proc = subprocess.Popen([sys.executable, "-c", "from avcap.cli import main; main()", *map(str, args)],
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cache = out / "judge_cache.sqlite"
        deadline = time.time() + 60
        cached = 0
        while time.time() < deadline and cached < 10:
            time.sleep(0.05)
            if cache.exists():
                try:
                    cached = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
                except sqlite3.OperationalError:
                    cached = 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert cached >= 10 and proc.returncode == -signal.SIGKILL
        assert not (out / "report.json").exists()  # it really died mid-run
        kept = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
        assert 10 <= kept < 60
        before = server.requests
        resumed = runner.invoke(app, list(map(str, args)))
        assert resumed.exit_code == 0, resumed.output
        assert server.requests - before == 60 - kept  # only the judgments the killed run had not stored
        clean_args = [str(a) if a != out else str(tmp_path / "clean") for a in args]
        assert runner.invoke(app, clean_args).exit_code == 0
    resumed_report = json.loads((out / "report.json").read_text())
    clean_report = json.loads((tmp_path / "clean" / "report.json").read_text())
    assert resumed_report == clean_report and resumed_report["caption_sets"][0]["metrics"]["salmonn2"]["n_scored"] == 30


def test_exit_codes_tell_whether_anything_was_judged(bench_files, tmp_path, monkeypatch):
    data, caps_a, _ = bench_files
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # A judge that cannot be reached: nothing is scored, the first cause is printed, exit 1.
    unreachable = invoke("--data", data, "--captions", caps_a, "--judge", "openai", "--judge-model", "m",
                         "--judge-base-url", "http://127.0.0.1:9/v1", "--max-attempts", "1", "--out",
                         tmp_path / "u", "--no-progress")
    assert unreachable.exit_code == 1, unreachable.output
    assert "first judge failure" in unreachable.output and "nothing was scored" in unreachable.output
    assert "127.0.0.1:9" in unreachable.output
    # Captions that share no id with the data: said before any judge call, exit 2.
    foreign = write_jsonl(tmp_path / "foreign.jsonl", [{"id": "zz1", "caption": "x"}, {"id": "zz2", "caption": "y"}])
    result = invoke("--data", data, "--captions", foreign, "--judge", "scripted", "--out", tmp_path / "f",
                    "--no-progress")
    assert result.exit_code == 2 and "shares no ids with" in result.output and "'zz1'" in result.output


def test_duplicate_caption_ids_are_reported_not_silently_resolved(tmp_path):
    data = write_json(tmp_path / "d.json", [{"id": "a", "video": "a.mp4", "events": ["A red square appears."]}])
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "caption": "A red square appears."},
                                              {"id": "a", "caption": "Something else entirely."}])
    result = invoke("--data", data, "--captions", caps, "--judge", "scripted", "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "duplicate caption id 'a'" in result.output and "Miss 0.0%" in result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert any("duplicate caption id 'a'" in e for e in report["caption_sets"][0]["caption_file_errors"])


def test_a_second_evaluation_into_the_same_folder_stops_at_once(bench_files, tmp_path):
    from ..lock_helpers import held_by_another_process

    data, caps_a, _ = bench_files
    out = tmp_path / "o"
    out.mkdir()
    with held_by_another_process(out) as holder:
        result = invoke("--data", data, "--captions", caps_a, "--judge", "scripted", "--out", out, "--no-progress")
    assert result.exit_code == 2 and f"pid {holder}" in result.output
    assert not (out / "report.json").exists()
