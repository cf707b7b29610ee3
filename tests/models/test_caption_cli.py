"""``avcap caption`` end to end: every family offline, failures as rows, resume, datasets, sampling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avcap.cli import app

ALL_TINY = ["tiny:salmonn2", "tiny:salmonn2-v1", "tiny:omni", "tiny:qwen3-omni", "tiny:qwen2-vl",
            "tiny:qwen2.5-vl", "tiny:qwen3-vl", "tiny:tarsier2", "tiny:videollama2", "tiny:videollama2-av"]
FAST = ["--max-new-tokens", "4", "--no-progress"]


def run(*args):
    return CliRunner().invoke(app, ["caption", *map(str, args)])


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("model", ALL_TINY)
def test_every_family_captions_a_generated_video_through_the_cli(model, videos, tmp_path):
    out = tmp_path / "captions.jsonl"
    result = run(videos[1], "--model", model, "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    (row,) = rows(out)
    assert row["id"] == "b.mp4" and row["video"] == str(videos[1]) and row["model"] == model
    assert isinstance(row["caption"], str) and row["error"] is None and row["sample"] == 0
    assert row["generation"]["max_new_tokens"] == 4 and row["generation"]["temperature"] == 0.0
    assert row["generation"]["frames"] and row["generation"]["prompt"] and row["seconds"] >= 0


@pytest.fixture
def folder(videos, tmp_path) -> Path:
    """The four videos plus a corrupt one, in a folder with a subfolder."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    for i, video in enumerate(videos):
        shutil.copy(video, root / ("sub" if i == 3 else "") / video.name)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not really a video")
    return root


def test_a_corrupt_video_in_a_batch_is_an_error_row_and_the_others_succeed(folder, tmp_path):
    out = tmp_path / "captions.jsonl"
    result = run(folder, "--model", "tiny:omni", "--out", out, "--batch-size", "5", "--max-new-tokens", "4")
    assert result.exit_code == 1, result.output  # 1: some videos failed (progress bar on here)
    by_id = {r["id"]: r for r in rows(out)}
    assert set(by_id) == {"a.mp4", "b.mp4", "c.mp4", "sub/d.mp4", "broken.mp4"}
    broken = by_id.pop("broken.mp4")
    assert broken["caption"] is None and "broken.mp4" in broken["error"] and "\n" not in broken["error"]
    assert all(r["error"] is None and isinstance(r["caption"], str) for r in by_id.values())
    assert "4 captioned" in result.output and "1 failed" in result.output


def test_resume_after_a_kill_neither_redoes_nor_duplicates(folder, tmp_path):
    (folder / "broken.mp4").unlink()
    out = tmp_path / "captions.jsonl"
    args = [folder, "--model", "tiny:qwen2-vl", "--out", out, "--batch-size", "2", *FAST]
    assert run(*args).exit_code == 0
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    assert len(lines) == 4
    # A kill mid-write: two rows on disk, the third cut in half without its newline.
    out.write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2])
    result = run(*args, "--no-prefetch")
    assert result.exit_code == 0 and "2 captioned, 2 already done" in result.output, result.output
    resumed = rows(out)
    assert out.read_text().startswith(lines[0] + lines[1])  # finished rows untouched
    assert sorted(r["id"] for r in resumed) == sorted(json.loads(line)["id"] for line in lines)  # no duplicates
    by_id = {json.loads(line)["id"]: json.loads(line)["caption"] for line in lines}
    assert all(r["caption"] == by_id[r["id"]] for r in resumed)  # greedy: the same captions again
    again = run(*args)
    assert again.exit_code == 0 and "0 captioned, 4 already done" in again.output


def test_error_rows_are_retried_on_the_next_run(videos, tmp_path):
    later = tmp_path / "later.mp4"
    out = tmp_path / "captions.jsonl"
    first = run(later, videos[0], "--model", "tiny:qwen3-vl", "--out", out, *FAST)
    assert first.exit_code == 1
    assert {r["id"]: r["error"] is not None for r in rows(out)} == {"later.mp4": True, "a.mp4": False}
    shutil.copy(videos[2], later)
    second = run(later, videos[0], "--model", "tiny:qwen3-vl", "--out", out, *FAST)
    assert second.exit_code == 0 and "1 captioned, 1 already done" in second.output
    final = rows(out)
    assert len(final) == 2 and all(r["error"] is None for r in final)


def test_dataset_rows_with_prompts_and_several_samples_per_video(videos, tmp_path):
    data = tmp_path / "data" / "test.jsonl"
    data.parent.mkdir()
    for video in videos[:2]:
        shutil.copy(video, data.parent / video.name)
    data.write_text("".join(json.dumps({
        "id": f"v{i}", "video": video.name,
        "conversations": [{"from": "human", "value": f"<video>\nPrompt number {i}."}, {"from": "gpt", "value": "ref"}],
    }) + "\n" for i, video in enumerate(videos[:2])))
    out = tmp_path / "samples.jsonl"
    result = run(data, "--model", "tiny:omni", "--out", out, "--temperature", "1.0", "--num-samples", "3",
                 "--seed", "0", "--batch-size", "2", *FAST)
    assert result.exit_code == 0, result.output
    got = rows(out)
    assert sorted((r["id"], r["sample"]) for r in got) == [(f"v{i}", s) for i in range(2) for s in range(3)]
    assert {r["id"]: r["generation"]["prompt"] for r in got} == {"v0": "Prompt number 0.", "v1": "Prompt number 1."}
    assert all(r["generation"]["num_samples"] == 3 and r["generation"]["seed"] == 0 for r in got)

    override = tmp_path / "override.jsonl"
    assert run(data, "-m", "tiny:omni", "-o", override, "--prompt-preset", "tarsier2", *FAST).exit_code == 0
    assert {r["generation"]["prompt"] for r in rows(override)} == {"Describe the video in detail."}


def test_bad_arguments_and_a_foreign_captions_file(videos, tmp_path):
    out = tmp_path / "captions.jsonl"
    assert run(videos[0], "-m", "tiny:omni", "-o", out, "--num-samples", "2", *FAST).exit_code == 2  # greedy x2
    assert run(videos[0], "-m", "tiny:omni", "-o", out, "--frames", "nope", *FAST).exit_code == 2
    assert run(videos[0], "-m", "tiny:omni", "-o", out, "--prompt", "x", "--prompt-preset", "avocado").exit_code == 2
    assert run(videos[0], "-m", "tiny:qwen2-vl", "-o", out, *FAST).exit_code == 0
    other = run(videos[0], "-m", "tiny:omni", "-o", out, *FAST)  # would silently mix two models' captions
    assert other.exit_code == 2 and "tiny:qwen2-vl" in other.output


def test_help_teaches_with_examples():
    result = CliRunner().invoke(app, ["caption", "--help"])
    assert result.exit_code == 0
    for needle in ("Examples", "tsinghua-ee/video-SALMONN2_plus_7B_full", "tiny:omni", "--num-samples", "resumes",
                   "--max-pixels", "--base-model", "docs/parity.md"):
        assert needle in result.output


def test_audio_only_dataset_rows_are_captioned_from_their_audio(tmp_path):
    """An ASR-style row (``audio``, no ``video``, the release's ``<audio>`` placeholder) is captioned."""
    import wave

    import numpy as np

    audio = tmp_path / "speech.wav"
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * 2) / 16000) * 32767).astype("<i2")
    with wave.open(str(audio), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(16000)
        f.writeframes(samples.tobytes())
    data = tmp_path / "asr.jsonl"
    data.write_text(json.dumps({"id": "asr1", "audio": audio.name, "conversations": [
        {"from": "human", "value": "<audio>\nTranscribe the speech."}, {"from": "gpt", "value": "x"}]}) + "\n"
        + json.dumps({"id": "gone", "audio": "missing.wav"}) + "\n")
    out = tmp_path / "captions.jsonl"
    result = run(data, "--model", "tiny:salmonn2", "--out", out, *FAST)
    assert result.exit_code == 1, result.output  # one row failed: its audio file is missing
    got = {r["id"]: r for r in rows(out)}
    assert got["asr1"]["error"] is None and isinstance(got["asr1"]["caption"], str)
    assert got["asr1"]["video"] is None and got["asr1"]["generation"]["prompt"] == "Transcribe the speech."
    assert "missing.wav" in got["gone"]["error"]


def test_inputs_that_cannot_be_used_become_error_rows_and_the_batch_goes_on(videos, tmp_path):
    out = tmp_path / "captions.jsonl"
    unreadable = tmp_path / "broken.json"
    unreadable.write_bytes(b"\xff\xfe[\x00")  # UTF-16: the file itself cannot be read
    result = run(tmp_path / "nowhere.txt", videos[0], tmp_path / "gone.mp4", unreadable, "-m", "tiny:omni",
                 "-o", out, *FAST)
    assert result.exit_code == 1, result.output
    got = {r["id"]: r for r in rows(out)}
    assert got["a.mp4"]["error"] is None
    assert "no such file or folder" in got["nowhere.txt"]["error"] and "gone.mp4" in got["gone.mp4"]["error"]
    assert "UTF-16" in got["broken.json"]["error"]
    # Each failure is on the console too, one line each.
    for item in ("nowhere.txt", "gone.mp4", "broken.json"):
        assert f"failed: {item}: " in result.output


def test_console_failure_lines_are_capped_and_escape_control_characters(tmp_path):
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"id": f"bad\r{i}", "video": f"missing{i}.mp4"}) + "\n" for i in range(25)))
    result = run(data, "-m", "tiny:omni", "-o", tmp_path / "c.jsonl", *FAST)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("failed: ")]
    assert len(lines) == 21 and lines[-1] == "failed: … and 5 more"
    assert "\r" not in result.output and "bad\\r0" in result.output


def test_dataset_media_outside_the_dataset_folder_are_error_rows(videos, tmp_path):
    data = tmp_path / "sets" / "set.jsonl"
    data.parent.mkdir()
    shutil.copy(videos[0], data.parent / "ok.mp4")
    (tmp_path / "other").mkdir()
    shutil.copy(videos[1], tmp_path / "other" / "b.mp4")
    data.write_text(json.dumps({"id": "ok", "video": "ok.mp4"}) + "\n"
                    + json.dumps({"id": "secret", "video": "/etc/shadow"}) + "\n"
                    + json.dumps({"id": "sibling", "video": "../other/b.mp4"}) + "\n")
    out = tmp_path / "c.jsonl"
    result = run(data, "-m", "tiny:omni", "-o", out, *FAST)
    assert result.exit_code == 1
    got = {r["id"]: r for r in rows(out)}
    assert got["ok"]["error"] is None
    assert "is outside" in got["secret"]["error"] and "is outside" in got["sibling"]["error"]
    # --media-root widens the folder; --allow-outside-paths lifts the check.
    wider = tmp_path / "wider.jsonl"
    assert run(data, "-m", "tiny:omni", "-o", wider, "--media-root", tmp_path, *FAST).exit_code == 1
    assert {r["id"] for r in rows(wider) if r["error"] is None} == {"ok", "sibling"}
    trusted = tmp_path / "trusted.jsonl"
    run(data, "-m", "tiny:omni", "-o", trusted, "--allow-outside-paths", *FAST)
    assert "is outside" not in {r["id"]: r for r in rows(trusted)}["secret"]["error"]


def test_a_second_writer_on_the_same_output_stops_at_once_naming_the_holder(videos, tmp_path):
    from ..lock_helpers import held_by_another_process

    out = tmp_path / "captions.jsonl"
    with held_by_another_process(out) as holder:  # another process writes the file now
        busy = run(videos[0], "-m", "tiny:omni", "-o", out, *FAST)
    assert busy.exit_code == 2, busy.output
    assert f"pid {holder}" in busy.output and len(busy.output.strip().splitlines()) == 1
    assert not out.exists() or out.read_text() == ""
    assert run(videos[0], "-m", "tiny:omni", "-o", out, *FAST).exit_code == 0  # the lock went with its holder


@pytest.mark.parametrize("change, setting", [
    (["--prompt", "Another prompt."], "prompt of 'a.mp4'"), (["--temperature", "0.7", "--seed", "1"], "temperature"),
    (["--max-new-tokens", "5"], "max_new_tokens"), (["--mute-audio"], "audio"), (["--frames", "salmonn2"], "frames"),
    (["--repetition-penalty", "1.2"], "repetition_penalty")])
def test_resuming_with_other_generation_settings_is_refused_unless_forced(videos, tmp_path, change, setting):
    out = tmp_path / "captions.jsonl"
    base = [videos[0], "-m", "tiny:omni", "-o", out, "--max-new-tokens", "4", "--no-progress"]
    first = run(*base)
    assert first.exit_code == 0, first.output
    before = out.read_text()
    refused = run(*base, *change)
    assert refused.exit_code == 2 and setting in refused.output and "--force-new" in refused.output
    assert out.read_text() == before  # nothing written, nothing lost
    forced = run(*base, *change, "--force-new")
    assert forced.exit_code == 0, forced.output
    assert len(rows(out)) == 1 and rows(out)[0]["generation"] != json.loads(before)["generation"]
    (aside,) = tmp_path.glob("captions.jsonl.*.bak")
    assert aside.read_text() == before
