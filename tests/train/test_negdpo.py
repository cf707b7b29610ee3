"""`avcap pairs negatives` + `avcap train negdpo` end to end on tiny models, and what training scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from avcap.media import load_clip
from avcap.train.objectives import LN2, DPOObjective
from tests.train.negdpo_helpers import make_videos

FAST = ["--lora.r", "4", "--optim.max_steps", "1", "--optim.batch_size", "3", "--optim.warmup_ratio", "0",
        "--optim.learning_rate", "1e-2", "--optim.save_steps", "0"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("negdpo_videos"))


def cli(*args: str, code: int = 0):
    from avcap.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


def test_cli_end_to_end_on_tiny_salmonn2(videos, tmp_path, tiny_model, monkeypatch):
    out = tmp_path / "pairs.jsonl"
    args = ["pairs", "negatives", "--data", str(videos), "--model", tiny_model, "--out", str(out), "--judge",
            "scripted", "--max-new-tokens", "4", "--second-sample", "-b", "2", "--no-progress"]
    first = cli(*args)
    assert "3 videos sampled (0 already), 3 scored" in first.output and "corrupted (all)" in first.output
    assert "0 videos sampled (3 already), 0 scored" in cli(*args).output  # resumed: nothing redone
    stats = json.loads(out.with_name("pairs.stats.json").read_text())
    assert stats["scored"] == 3 and stats["videos"] == 3 and "second" in stats
    assert out.with_name("pairs.judge_cache.sqlite").is_file()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(set(r["candidates"]) == {"clean", "corrupted", "clean_2"} and r["judge"].startswith("judge:scripted")
               for r in rows)
    cli("pairs", "stats", str(out), "--json")
    cli(*args[:-1], "--temperature", "1.0", code=2)  # other settings than the file's: refused

    # Training: ỹ was generated from the corrupted clip, but DPO scores π(ỹ|x) on the clean clip x, like π(y|x).
    seen = []
    original = DPOObjective._forward

    def spy(self, model, groups):
        seen.append([[(ex.clip, ex.answer) for ex in group] for group in groups])
        return original(self, model, groups)

    monkeypatch.setattr(DPOObjective, "_forward", spy)
    run = tmp_path / "run"
    train = ["train", "negdpo", "--data", str(out), "--output_dir", str(run), "--model.name", tiny_model,
             "--model.device", "cpu", "--no-filter", *FAST]
    refused = cli(*train, code=1)  # the pairs name videos outside their folder: a media root must allow it
    assert "outside" in refused.output and not (run / "model").exists()
    cli(*train, "--media_root", str(videos.parent))
    report = json.loads((run / "report.json").read_text())
    assert report["setting"] == "w/o PF" and report["pairs"]["pairs"] == 3
    assert report["train"]["first_step"]["dpo_loss"] == pytest.approx(LN2, abs=1e-5)
    assert (run / "model").is_dir() and (run / "pairs.jsonl").is_file()
    preference = [json.loads(line) for line in (run / "pairs.jsonl").read_text().splitlines()]
    assert [p["rejected"] for p in preference] == [r["candidates"]["corrupted"] for r in rows]
    assert len(seen) == 2  # the policy pass and the reference pass
    by_video = {Path(r["video"]).name: r for r in rows}
    for chosen, rejected, *_ in seen:
        assert len(chosen) == len(rejected) == 3
        for (c_clip, c_text), (r_clip, r_text) in zip(chosen, rejected):
            assert c_clip is r_clip  # one clip per pair ...
            row = by_video[Path(c_clip.path).name]
            clean = load_clip(row["video"], "salmonn2-plus")  # the 2+ miniature's own frame policy
            assert np.array_equal(c_clip.frame_times, clean.frame_times)  # ... the clean one
            assert np.array_equal(c_clip.frames, clean.frames)
            assert (c_text, r_text) == (row["candidates"]["clean"], row["candidates"]["corrupted"])  # y_w, y_l


def test_cli_end_to_end_on_tiny_tarsier2_with_held_out_evaluation(videos, tmp_path):
    out = tmp_path / "pairs.jsonl"
    cli("pairs", "negatives", "--data", str(videos), "--model", "tiny:tarsier2", "--out", str(out), "--judge",
        "scripted", "--max-new-tokens", "4", "--crop", "paper", "--no-progress")
    assert all(json.loads(line)["sampling"]["crop"] == "paper" for line in out.read_text().splitlines())
    run = tmp_path / "run"
    cli("train", "negdpo", "--data", str(out), "--output_dir", str(run), "--model.name", "tiny:tarsier2",
        "--model.device", "cpu", "--no-filter", "--train_aligner", "false", "--eval_data", str(videos),
        "--media_root", str(videos.parent),
        "--eval_max_new_tokens", "4", "--scorer.kind", "judge", "--scorer.backend", "scripted", *FAST)
    report = json.loads((run / "report.json").read_text())
    for stage in ("eval_start", "eval_final"):
        assert report[stage]["rows"] == 3 and "total" in report[stage] and "f1" in report[stage]["autodq"]
    from avcap.models import load_captioner

    assert load_captioner(str(run / "model"), device="cpu").variant == "tarsier2"  # saved as it was loaded


def test_cli_bad_arguments_and_failed_videos(videos, tmp_path, tiny_model):
    cli("pairs", "negatives", "--data", str(videos), "--model", "tiny:tarsier2", "--crop", "half", code=2)
    rows = [json.loads(line) for line in videos.read_text().splitlines()]
    rows.append({"id": "gone", "video": "missing.mp4",
                 "conversations": [{"from": "gpt", "value": "x"}]})
    data = videos.with_name("with_missing.jsonl")
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("pairs", "negatives", "--data", str(data), "--model", "tiny:tarsier2", "--judge", "scripted",
                 "--max-new-tokens", "2", "--out", str(tmp_path / "p.jsonl"), "--no-progress", code=1)
    assert "gone" in result.output
    cli("train", "negdpo", "--data", str(tmp_path / "none.jsonl"), "--output_dir", str(tmp_path / "r"), code=1)
