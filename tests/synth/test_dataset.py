"""``avcap synth dataset``: standard rows, deterministic, resumable, fast; ``avcap synth sample`` still works."""

import json
import time

import av
import pytest
from typer.testing import CliRunner

from avcap.cli import app
from avcap.data import load_dataset
from avcap.errors import ConfigError
from avcap.synth import audio
from avcap.synth.dataset import DatasetConfig, build_dataset, make_row
from avcap.synth.language import DEFAULT_PROMPT
from avcap.synth.sampler import sample_script
from avcap.synth.symbolic import judge_rows
from avcap.synth.world import Script, WorldConfig

runner = CliRunner()


def synth(*args: str):
    return runner.invoke(app, ["synth", "dataset", *args, "--no-progress"])


def test_dataset_of_20_is_standard_deterministic_and_fast(tmp_path):
    start = time.perf_counter()
    result = synth(str(tmp_path / "a"), "--n", "20", "--seed", "3")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert "20 rendered" in result.output and elapsed < 15
    data = load_dataset(tmp_path / "a" / "train.json", strict=True)
    assert len(data.rows) == 20 and not data.errors
    rows = json.loads((tmp_path / "a" / "train.json").read_text())
    for row, parsed in zip(rows, data.rows):
        assert parsed.prompt == DEFAULT_PROMPT and parsed.reference == row["conversations"][1]["value"]
        assert (tmp_path / "a" / row["video"]).is_file() and row["video"].startswith("videos/")
        script = Script.from_dict(row["script"])
        assert row["script_hash"] == script.hash() and row["events"] and row["qa"]
        with av.open(parsed.video) as c:
            assert c.streams.video[0].frames == script.n_frames and c.streams.audio[0].sample_rate == 16_000
    judgments = judge_rows([{**r, "caption": r["conversations"][1]["value"]} for r in rows])
    assert all(j.total_errors == 0 for j in judgments)
    # Same seed, other folder: byte-identical rows; another seed: other scripts.
    assert synth(str(tmp_path / "b"), "--n", "20", "--seed", "3").exit_code == 0
    assert (tmp_path / "a" / "train.json").read_bytes() == (tmp_path / "b" / "train.json").read_bytes()
    assert synth(str(tmp_path / "c"), "--n", "2", "--seed", "4").exit_code == 0
    other = json.loads((tmp_path / "c" / "train.json").read_text())
    assert other[0]["script"] != rows[0]["script"] and other[0]["id"] != rows[0]["id"]
    info = json.loads((tmp_path / "a" / "train.info.json").read_text())
    assert info["n"] == 20 and info["speech"] in (None, "espeak-ng") and info["caption_vocabulary_size"] <= 150


def test_resume_keeps_matching_videos_and_redoes_damaged_ones(tmp_path):
    out = tmp_path / "d"
    assert synth(str(out), "--n", "4", "--no-speech").exit_code == 0
    videos = sorted((out / "videos").iterdir())
    stamps = [p.stat().st_mtime_ns for p in videos]
    result = synth(str(out), "--n", "4", "--no-speech")
    assert "0 rendered, 4 kept" in result.output
    assert [p.stat().st_mtime_ns for p in videos] == stamps
    videos[1].write_bytes(videos[1].read_bytes()[:500])  # a damaged file
    result = synth(str(out), "--n", "4", "--no-speech")
    assert "1 rendered, 3 kept" in result.output
    result = synth(str(out), "--n", "4", "--no-speech", "--fps", "8")  # other fps: other scripts
    assert "4 rendered" in result.output
    result = synth(str(out), "--n", "4", "--no-speech", "--fps", "8", "--name", "rows.jsonl", "--workers", "2")
    assert "0 rendered, 4 kept" in result.output
    lines = (out / "rows.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [f"synth_s0_{i:05d}" for i in range(4)]


def test_workers_give_the_same_dataset(tmp_path):
    cfg = dict(n=3, seed=5, world=WorldConfig(speech=False, max_duration_s=5))
    build_dataset(DatasetConfig(out=tmp_path / "one", workers=1, **cfg), progress=False)
    build_dataset(DatasetConfig(out=tmp_path / "two", workers=2, **cfg), progress=False)
    assert (tmp_path / "one" / "train.json").read_bytes() == (tmp_path / "two" / "train.json").read_bytes()


def test_speech_is_recorded_and_required_when_asked(tmp_path, monkeypatch):
    row = make_row(sample_script((0, 0), WorldConfig(speech=True)), "x")
    assert row["script"]["speech"] == "espeak-ng"
    assert make_row(sample_script((0, 0)), "x")["script"]["speech"] is None
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)  # as on a machine without espeak-ng
    result = synth(str(tmp_path / "s"), "--n", "2", "--speech")
    assert result.exit_code == 2 and "espeak-ng" in result.output
    result = synth(str(tmp_path / "s"), "--n", "2")  # default: speech only where espeak-ng is installed
    assert result.exit_code == 0 and "no speech" in result.output
    rows = json.loads((tmp_path / "s" / "train.json").read_text())
    assert all(r["script"]["speech"] is None for r in rows)


@pytest.mark.parametrize("args, message", [(["--size", "127"], "size"), (["--fps", "2"], "fps"),
                                           (["--min-duration", "9", "--max-duration", "5"], "durations"),
                                           (["--name", "x.csv"], "name"), (["--n", "0"], "n must")])
def test_bad_options_fail_in_one_line(tmp_path, args, message):
    result = synth(str(tmp_path / "e"), *args)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_config_validation():
    with pytest.raises(ConfigError):
        DatasetConfig(out="x", workers=0)
    with pytest.raises(ConfigError):
        DatasetConfig(out="x", prompt=" ")


def test_sample_command_still_works(tmp_path):
    result = runner.invoke(app, ["synth", "sample", str(tmp_path / "s.mp4"), "--duration", "1"])
    assert result.exit_code == 0 and (tmp_path / "s.mp4").is_file()
