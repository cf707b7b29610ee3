"""Done-when of the parity work: a test-made checkpoint in each official layout -- 2+ full, 2+
adapter, first release, AVoCaDO (full Qwen2.5-Omni), Tarsier2 -- captions an official-format
dataset file through ``avcap caption --model PATH``, fed as its authors feed it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from avcap.models.captioning import CaptionItem, CaptionRunConfig, run_captioning
from avcap.models.registry import resolve_checkpoint
from avcap.models.salmonn2.captioner import PLUS_PROMPT, V1_PROMPT
from avcap.synth.sample import SampleVideoSpec, write_sample_video

from .conftest_salmonn2 import tiny_dir
from .official.adapter import write_adapter
from .test_caption_cli import rows, run
from .test_omni import _full_omni_checkpoint

AVOCADO_PROMPT = ("Provide a comprehensive description of all the content in the video, leaving out no details. "
                  "Be sure to include as much of the audio information as possible, and ensure that your "
                  "descriptions of the audio and video are closely aligned.")
# layout -> (frame policy, default prompt, takes images)
LAYOUTS = {"2+ full": ("salmonn2-plus", PLUS_PROMPT, True), "2+ adapter": ("salmonn2-plus", PLUS_PROMPT, True),
           "first release": ("salmonn2", V1_PROMPT, False), "AVoCaDO": ("omni", AVOCADO_PROMPT, True),
           "Tarsier2": ("tarsier2", "Describe the video in detail.", True)}


@pytest.fixture(scope="module")
def official_rows(tmp_path_factory):
    """Rows as the official files write them: a test-set row (no id, LLaVA's <image>), 2+ example_av
    (use_audio), a visual-only row, a segment, a forced prefix, an image row."""
    from PIL import Image

    root = tmp_path_factory.mktemp("official_rows")
    write_sample_video(root / "clip.mp4", SampleVideoSpec(duration_s=2.0, fps=8, width=64, height=48, seed=3))
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(root / "pic.png")
    turns = [{"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": "A square moves."}]
    video_rows = [
        {"video": "clip.mp4", "conversations": turns, "events": ["a square moves"]},
        {"id": "av", "video": "clip.mp4", "use_audio": True, "conversations": turns},
        {"id": "visual", "video": "clip.mp4", "use_audio": False},
        {"id": "segment", "video": "clip.mp4", "timestamps": [0.5, 1.5]},
        {"id": "prefix", "video": "clip.mp4", "conversations": [turns[0], {"from": "gpt", "value": "", "prefix": "A"}]},
    ]
    image_row = {"id": "image", "image": "pic.png", "conversations": [{"from": "human", "value": "<image>\nWhat?"}]}
    for name, extra in (("video.jsonl", []), ("with_image.jsonl", [image_row])):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in video_rows + extra))
    return root


def _checkpoint(layout: str, tmp_path):
    if layout == "2+ full":
        return tiny_dir("plus")
    if layout == "2+ adapter":
        return write_adapter(tiny_dir("plus"), tmp_path / "adapter")
    if layout == "first release":
        return tiny_dir("v1")
    if layout == "AVoCaDO":
        path = tmp_path / "avocado"
        _full_omni_checkpoint(resolve_checkpoint("tiny:omni"), path, "omni")
    else:
        path = tmp_path / "tarsier2"
        shutil.copytree(resolve_checkpoint("tiny:tarsier2"), path)
    (path / "avcap.json").unlink()  # an official folder: no avcap settings, the release's own budget
    return path


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_official_layout_captions_official_rows_through_the_cli(layout, official_rows, tmp_path):
    policy, prompt, images = LAYOUTS[layout]
    data = official_rows / ("with_image.jsonl" if images else "video.jsonl")
    out = tmp_path / "captions.jsonl"
    result = run(data, "--model", _checkpoint(layout, tmp_path), "--out", out, "--max-new-tokens", "3", "--no-progress")
    assert result.exit_code == 0, result.output
    got = {r["id"]: r for r in rows(out)}
    assert set(got) == {"clip.mp4", "av", "visual", "segment", "prefix"} | ({"image"} if images else set())
    assert all(r["error"] is None and isinstance(r["caption"], str) for r in got.values())
    assert got["visual"]["generation"]["frames"] == policy  # the authors' frame policy, no flag needed
    assert got["visual"]["generation"]["prompt"] == prompt  # a row without a prompt gets the authors' prompt
    assert got["av"]["generation"]["prompt"] == "Describe."
    assert got["prefix"]["caption"].startswith("A")


def test_first_release_refuses_an_image_row_in_one_line(official_rows, tmp_path):
    out = tmp_path / "captions.jsonl"
    result = run(official_rows / "with_image.jsonl", "--model", tiny_dir("v1"), "--out", out, "--max-new-tokens", "2",
                 "--no-progress", "--interleave", "paper")
    assert result.exit_code == 1, result.output
    error = {r["id"]: r for r in rows(out)}["image"]["error"]
    assert "takes videos and audio, not images" in error and "\n" not in error


def test_flags_that_do_not_apply_are_bad_arguments(official_rows, tmp_path):
    data = official_rows / "video.jsonl"
    for model, flags, message in [
        (tiny_dir("plus"), ["--interleave", "paper"], "applies to first-release"),
        (tiny_dir("v1"), ["--positions", "training"], "applies to video-SALMONN 2+"),
        (tiny_dir("v1"), ["--max-pixels", "5000"], "does not apply to frame policy salmonn2"),
        (tiny_dir("plus"), ["--adapter", "fold"], "merge or keep"),
    ]:
        result = run(data, "--model", model, "--out", tmp_path / "x.jsonl", "--no-progress", *flags)
        assert result.exit_code == 2 and message in result.output, (flags, result.output)


def test_frame_overrides_reach_the_policy_and_the_model(official_rows, tmp_path):
    out = tmp_path / "captions.jsonl"
    result = run(official_rows / "video.jsonl", "--model", tiny_dir("plus"), "--out", out, "--max-new-tokens", "2",
                 "--no-progress", "--fps", "2", "--max-frames", "3", "--max-pixels", "3136", "--positions", "training")
    assert result.exit_code == 0, result.output
    assert all(r["error"] is None for r in rows(out))
    generation = rows(out)[0]["generation"]
    assert generation["frames"].startswith("salmonn2-plus (interval_s=0.5, min_frames=3, max_frames=3, max_pixels=3136")
    assert generation["positions"] == "training"
    again = run(official_rows / "video.jsonl", "--model", tiny_dir("plus"), "--out", out, "--max-new-tokens", "2",
                "--no-progress", "--fps", "2", "--max-frames", "3", "--max-pixels", "3136")
    assert again.exit_code == 2 and "positions" in again.output  # a resume with other inputs is refused


class _Recorder:
    """A captioner that records what it was asked (the run's own bookkeeping under test)."""

    name, family, frame_policy, default_prompt, default_max_new_tokens = "rec", "salmonn2", "salmonn2", "P", 1024

    def __init__(self):
        self.calls = []

    def caption(self, clips, prompt, generation, prefix=None):
        self.calls.append((generation.max_new_tokens, prefix, [c.audio.size for c in clips]))
        return ["x"] * len(clips) * generation.num_samples


def test_the_run_records_the_models_own_limit_and_passes_row_options(official_rows, tmp_path):
    rec = _Recorder()
    video = str(official_rows / "clip.mp4")
    items = [CaptionItem("a", video), CaptionItem("b", video, use_audio=False), CaptionItem("c", video, prefix="A")]
    run_captioning(rec, items, CaptionRunConfig(out=tmp_path / "o.jsonl", progress=False, batch_size=4))
    assert rec.calls == [(1024, None, [32000, 0]), (1024, "A", [32000])]  # a batch shares one prefix
    assert {r["generation"]["max_new_tokens"] for r in rows(tmp_path / "o.jsonl")} == {1024}
