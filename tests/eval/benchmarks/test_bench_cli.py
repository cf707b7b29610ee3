"""`avcap bench` end to end: list/show, dry-run before spending, run + compare, exit codes, calibrate."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

from avcap.cli import app

from .conftest import by_prompt, numbered, write_json, write_jsonl

runner = CliRunner()
EVENTS = ["A man opens a door.", "A dog barks twice.", "Rain falls.", "A phone rings."]


def bench(*args):
    return runner.invoke(app, ["bench", *map(str, args)])


def judge_by_coverage(sec, body):
    """Missing = events whose first word pair is not in the caption; hallucinated = 'cat' sentences."""
    caption = sec["caption"].lower()
    events = numbered(sec["events"])
    missing = [i + 1 for i, e in enumerate(events) if " ".join(e.lower().split()[:2]) not in caption]
    return {"missing": missing, "incorrect": [], "hallucinated": ["a cat"] * caption.count("cat")}


def strict_judge(sec, body):
    """A second judge: also calls every dog event missing."""
    out = judge_by_coverage(sec, body)
    out["missing"] = sorted(set(out["missing"]) | {2})
    return out


@pytest.fixture
def files(tmp_path):
    rows = [{"video": f"v{i}.mp4", "conversations": [], "events": EVENTS} for i in range(5)]
    data = write_json(tmp_path / "test.json", rows)
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": f"v{i}.mp4", "caption": "A man opens it. A dog barks. Rain falls.",
                                            "finish_reason": "stop"} for i in range(5)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": f"v{i}.mp4", "caption": "A man opens it. A cat." * (1 + i % 2),
                                            "finish_reason": "stop"} for i in range(5)])
    return data, a, b


def test_list_and_show_name_every_benchmark_and_its_sources():
    listed = bench("list")
    assert listed.exit_code == 0
    for name in ("salmonn2-testset", "salmonn2-testset-avocado", "dream-1k", "daily-omni", "worldsense",
                 "ugc-videocap", "vdc-detailed"):
        assert name in listed.output
    shown = bench("show", "salmonn2-testset")
    assert "gpt-3.5-turbo-0125; temperature 0.0, top-p 0.1, seed 2024 (+1/run, +1/retry)" in shown.output
    assert "REFERENCE.md" in shown.output and "--variant same_items" in shown.output
    assert json.loads(bench("show", "dream-1k", "--json").output)["judge"]["temperature"] is None
    assert bench("show", "nope").exit_code == 2


def test_dry_run_asks_nothing_then_a_run_compares_and_a_rerun_is_free(files, tmp_path, judge_server):
    data, a, b = files
    server = judge_server(by_prompt(salmonn2_judge=judge_by_coverage))
    common = ["salmonn2-testset", "--data", data, "--captions", a, "--compare", b, "--out", tmp_path / "out",
              "--judge-base-url", server.base_url, "--runs", "3", "--bootstrap", "100", "--no-progress",
              "--price-prompt", "0.5", "--price-completion", "1.5"]
    dry = bench("run", *common, "--dry-run")
    assert dry.exit_code == 0 and server.requests == 0, dry.output
    # 3 distinct captions (one in a, two in b; the same question is asked once) x 3 runs:
    assert "9 questions, 0 already in the cache, 9 to ask (at most 90 with every retry)" in dry.output
    assert "$0.00" in dry.output and "deviation from the protocol: 3 judge runs (protocol: 7)" in dry.output
    ran = bench("run", *common)
    assert ran.exit_code == 0, ran.output
    assert server.requests == 9 and "a - b: total" in ran.output and "= $" in ran.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    comp = report["compare"]["metrics"]["total"]
    sa, sb = report["caption_sets"]
    assert comp["difference"] == pytest.approx(sa["headline"]["total"] - sb["headline"]["total"])
    assert comp["low"] <= comp["difference"] <= comp["high"] and 0 < comp["p_value"] <= 1
    assert report["tokens"]["cost_usd"] > 0 and report["deviations"] == ["3 judge runs (protocol: 7)"]
    again = bench("run", *common, "--dry-run")
    assert "9 already in the cache, 0 to ask" in again.output
    rerun = bench("run", *common)
    assert rerun.exit_code == 0 and server.requests == 9 and "judge calls this run: 0" in rerun.output


def test_exit_codes_tell_failures_and_an_unreachable_judge(files, tmp_path, judge_server):
    data, a, _ = files
    caps = write_jsonl(tmp_path / "partial.jsonl", [{"id": "v0.mp4", "caption": "A man opens it.", "finish_reason": "stop"},
                                                    {"id": "v1.mp4", "caption": None, "error": "MediaError: broken"}])
    server = judge_server(by_prompt(salmonn2_judge=judge_by_coverage))
    some = bench("run", "salmonn2-testset", "--data", data, "--captions", caps, "--out", tmp_path / "o1",
                 "--judge-base-url", server.base_url, "--runs", "1", "--no-progress")
    assert some.exit_code == 1 and "4 failed or missing captions" in some.output
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = bench("run", "salmonn2-testset", "--data", data, "--captions", a, "--out", tmp_path / "o2",
                 "--judge-base-url", f"http://127.0.0.1:{port}/v1", "--runs", "1", "--max-attempts", "1",
                 "--no-progress")
    assert down.exit_code == 2 and "the judge could not be reached" in down.output and "connection to" in down.output
    dead = write_jsonl(tmp_path / "dead.jsonl", [{"id": f"v{i}.mp4", "caption": None, "error": "MediaError: x"}
                                                 for i in range(5)])
    none = bench("run", "salmonn2-testset", "--data", data, "--captions", dead, "--out", tmp_path / "o4",
                 "--judge-base-url", server.base_url, "--runs", "1", "--no-progress")
    assert none.exit_code == 1 and "nothing scored" in none.output  # every caption failed: failed items, not setup
    record = json.loads((tmp_path / "o2" / "report.json").read_text())["items"][0]["results"]["a"][0]
    assert record["attempts"] == 1  # a judge that cannot be reached is not asked the 8 retries too
    assert bench("run", "nope", "--data", data, "--captions", a, "--out", tmp_path / "o3").exit_code == 2


def test_calibrate_measures_the_local_judges_shift_and_agreement(files, tmp_path, judge_server):
    data, a, _ = files
    ref_server = judge_server(by_prompt(salmonn2_judge=judge_by_coverage))
    local_server = judge_server(by_prompt(salmonn2_judge=strict_judge))
    for name, server in (("ref", ref_server), ("local", local_server)):
        out = bench("run", "salmonn2-testset", "--data", data, "--captions", a, "--out", tmp_path / name,
                    "--judge-base-url", server.base_url, "--runs", "1", "--no-progress", "--bootstrap", "0")
        assert out.exit_code == 0, out.output
    result = bench("calibrate", "--local", tmp_path / "local", "--reference", tmp_path / "ref",
                   "--out", tmp_path / "calib.json", "--bootstrap", "100")
    assert result.exit_code == 0, result.output
    calib = json.loads((tmp_path / "calib.json").read_text())
    ref = json.loads((tmp_path / "ref" / "report.json").read_text())["caption_sets"][0]["headline"]
    local = json.loads((tmp_path / "local" / "report.json").read_text())["caption_sets"][0]["headline"]
    # The caption misses "a phone rings" for both judges; the local judge also calls the dog missing.
    assert ref["miss"] == pytest.approx(0.25) and local["miss"] == pytest.approx(0.5)
    assert calib["shift"]["miss"]["difference"] == pytest.approx(local["miss"] - ref["miss"])
    assert calib["per_item"]["miss"]["mean_abs_diff"] == pytest.approx(0.25)
    # Per-event labels: 5 items x 4 events; the judges disagree on event 2 of every item.
    labels_ref = np.array([0, 0, 0, 1] * 5)
    labels_local = np.array([0, 1, 0, 1] * 5)
    p_o = np.mean(labels_ref == labels_local)
    p_e = np.mean(labels_ref) * np.mean(labels_local) + (1 - np.mean(labels_ref)) * (1 - np.mean(labels_local))
    assert calib["labels"]["missing"]["agreement"] == pytest.approx(p_o)
    assert calib["labels"]["missing"]["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))
    assert "shift +0.25" in result.output


def _official_files(name, tmp_path):
    """One tiny file per benchmark in its release's own layout, and captions for it."""
    from .test_bench_formats import dream_row

    if name.startswith("salmonn2"):
        data = write_json(tmp_path / "test.json", [{"video": "v0.mp4", "conversations": [], "events": EVENTS}])
        return data, [{"id": "v0.mp4", "caption": "A man opens a door. A dog barks twice."}]
    if name == "dream-1k":
        data = write_jsonl(tmp_path / "d.jsonl", [dream_row(1, "live", "A man opens a door. A dog barks.", None)])
        return data, [{"id": "1", "caption": "A man opens a door."}]
    if name == "daily-omni":
        data = write_json(tmp_path / "qa.json", [{"Question": "What does the man open?", "Choice": ["A. a window",
                          "B. a door"], "Answer": "B", "video_id": "v0", "Type": "Context", "video_duration": "30s"}])
        return data, [{"v0": "A man opens a door."}]
    if name == "worldsense":
        data = write_json(tmp_path / "worldsense_qa.json", {"v0": {"video_duration": "30s", "task0": {
            "question": "What does the man open?", "candidates": ["A. a window", "B. a door"], "answer": "B",
            "task_type": "Action Recognition"}}})
        return data, [{"video_id": "v0", "caption": "A man opens a door."}]
    if name == "ugc-videocap":
        folder = tmp_path / "refs"
        folder.mkdir()
        write_json(folder / "PI-0.json", {"final_caption": {"caption_text": "A man opens a door and music plays."}})
        return folder, [{"video_id": "PI-0", "caption": "A man opens a door."}]
    data = write_jsonl(tmp_path / "detailed.jsonl", [{"vid0": [{"question": "What does the man open?",
                                                               "answer": "a door", "category": "action"}]}])
    return data, [{"video_id": "vid0", "caption": "The man opens a door."}]


@pytest.mark.parametrize("name", ["salmonn2-testset", "salmonn2-testset-avocado", "dream-1k", "daily-omni",
                                  "worldsense", "ugc-videocap", "vdc-detailed"])
def test_every_benchmark_runs_from_the_cli_on_its_official_format(name, tmp_path):
    from avcap.judge.testing import FakeOpenAIServer

    data, rows = _official_files(name, tmp_path)
    caps = write_jsonl(tmp_path / "caps.jsonl", rows)
    with FakeOpenAIServer() as server:  # answers every avcap prompt with the word-overlap heuristic
        result = bench("run", name, "--data", data, "--captions", caps, "--out", tmp_path / "out",
                       "--judge-base-url", server.base_url, "--runs", "1", "--bootstrap", "50", "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    headline = report["caption_sets"][0]["headline"][report["benchmark"]["headline"]]
    assert headline is not None and report["benchmark"]["name"] == name


def test_one_run_per_out_folder(files, tmp_path):
    from ...lock_helpers import held_by_another_process

    data, a, _ = files
    out = tmp_path / "busy"
    out.mkdir()
    with held_by_another_process(out):
        busy = bench("run", "salmonn2-testset", "--data", data, "--captions", a, "--out", out, "--judge", "scripted",
                     "--runs", "1", "--no-progress")
    assert busy.exit_code == 2 and "another avcap process" in busy.output
