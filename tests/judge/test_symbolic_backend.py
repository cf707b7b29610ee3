"""``--judge symbolic``: exact video-SALMONN 2 judgments of synthetic-world captions, end to end."""

import json
from pathlib import Path

from typer.testing import CliRunner

from avcap.cli import app
from avcap.synth.dataset import DatasetConfig, build_dataset
from avcap.synth.world import WorldConfig


def _dataset(tmp_path: Path) -> list[dict]:
    build_dataset(DatasetConfig(out=tmp_path / "ds", n=3, seed=7, world=WorldConfig(speech=False)), progress=False)
    return json.loads((tmp_path / "ds" / "train.json").read_text())


def _captions(path: Path, rows: list[dict], captions: list[str]) -> Path:
    path.write_text("".join(
        json.dumps({"id": r["id"], "video": r["video"], "caption": c, "model": "m", "generation": {},
                    "seconds": 0.0, "error": None}) + "\n"
        for r, c in zip(rows, captions)))
    return path


def _eval(tmp_path: Path, captions: Path, metrics: str = "salmonn2") -> tuple[int, dict, str]:
    out = tmp_path / ("rep_" + captions.stem + metrics.replace(",", "_"))
    result = CliRunner().invoke(app, [
        "eval", "--data", str(tmp_path / "ds" / "train.json"), "--captions", str(captions),
        "--judge", "symbolic", "--metrics", metrics, "--out", str(out), "--no-progress"])
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return result.exit_code, report, result.output


def test_ground_truth_captions_score_zero(tmp_path: Path):
    rows = _dataset(tmp_path)
    caps = _captions(tmp_path / "gt.jsonl", rows, [r["conversations"][1]["value"] for r in rows])
    code, report, output = _eval(tmp_path, caps)
    assert code == 0, output
    metrics = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert (metrics["miss"], metrics["hall"], metrics["total"]) == (0.0, 0.0, 0.0)
    assert report["params"]["judge"]["backend"] == "symbolic"


def test_each_error_kind_is_counted_exactly(tmp_path: Path):
    rows = _dataset(tmp_path)
    refs = [r["conversations"][1]["value"] for r in rows]
    first_sentence_only = refs[0].split(". ")[0] + "."
    extra_event = refs[1] + " A purple triangle disappears."
    caps = _captions(tmp_path / "bad.jsonl", rows, [first_sentence_only, extra_event, "Gibberish words here."])
    _, report, output = _eval(tmp_path, caps)
    run = report["caption_sets"][0]["metrics"]["salmonn2"]["runs"][0]
    n0, n2 = len(rows[0]["events"]), len(rows[2]["events"])
    assert run["n_events"] == sum(len(r["events"]) for r in rows), output
    assert run["n_missing"] == (n0 - 1) + n2
    assert run["n_hallucinated"] == 2  # the invented event and the unreadable sentence
    assert run["n_incorrect"] == 0


def test_metrics_it_cannot_score_are_recorded_as_failures(tmp_path: Path):
    rows = _dataset(tmp_path)
    caps = _captions(tmp_path / "gt.jsonl", rows, [r["conversations"][1]["value"] for r in rows])
    _, report, output = _eval(tmp_path, caps, metrics="autodq")
    failures = report["caption_sets"][0]["judge_failures"]
    assert len(failures) == len(rows), output
    assert "scores only the salmonn2 metric" in json.dumps(failures)


def test_a_wrong_sentence_repeated_three_times_counts_three_times(tmp_path: Path):
    # The eval path once deduplicated hallucinated strings: three repeats of one invented event
    # counted once (demo item synth_s0_00002 showed 6/9 where the exact count is 7/9).
    rows = _dataset(tmp_path)
    refs = [r["conversations"][1]["value"] for r in rows]
    repeated = refs[0] + " A purple triangle disappears." * 3
    caps = _captions(tmp_path / "rep.jsonl", rows[:1], [repeated])
    _, report, output = _eval(tmp_path, caps)
    run = report["caption_sets"][0]["metrics"]["salmonn2"]["runs"][0]
    assert run["n_missing"] == 0 and run["n_incorrect"] == 0, output
    assert run["n_hallucinated"] == 3
