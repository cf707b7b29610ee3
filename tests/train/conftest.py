"""Shared material for the training tests: tiny generated videos, datasets, the tiny video-SALMONN 2+.

Everything runs on CPU from files made here; the tiny model is the real architecture from a
shrunken config (``tiny:salmonn2``), built once and cached.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcap.synth.sample import SampleVideoSpec, write_sample_video

TINY = "tiny:salmonn2"
ANSWERS = ["a red square moves right", "a tone plays then noise", "the square crosses the frame"]
EVENTS = [["a red square moves right"], ["a tone plays", "noise bursts follow"], ["the square crosses the frame"]]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Three 1-second videos with audio, a supervised set and a preference set."""
    root = tmp_path_factory.mktemp("train_data")
    rows = []
    for i, (answer, events) in enumerate(zip(ANSWERS, EVENTS)):
        write_sample_video(root / f"v{i}.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=64, height=48, seed=i))
        rows.append({"id": f"v{i}", "video": f"v{i}.mp4", "events": events,
                     "conversations": [{"from": "human", "value": "<video>\nDescribe the video."},
                                       {"from": "gpt", "value": answer}]})
    write_jsonl(root / "train.jsonl", rows)
    write_jsonl(root / "train2.jsonl", rows[:2])
    prefs = [{**r, "chosen": r["conversations"][1]["value"], "rejected": "noise noise noise noise"} for r in rows[:2]]
    write_jsonl(root / "pref.jsonl", prefs)
    # The same pairs as the official releases write them: 2+ roles (gpt = ground truth, chosen,
    # reject) and the first release's (gpt = chosen, reject_gpt, gt).
    human, answer = rows[0]["conversations"][0], rows[0]["conversations"][1]["value"]
    official = [
        {"id": "v0", "video": "v0.mp4", "use_audio": True, "conversations": [
            human, {"from": "gpt", "value": answer}, {"from": "chosen", "value": answer},
            {"from": "reject", "value": "noise noise noise noise"}]},
        {"id": "v1", "video": "v1.mp4", "conversations": [
            {"from": "human", "value": "<image>\nDescribe the video."}, {"from": "gpt", "value": ANSWERS[1]},
            {"from": "reject_gpt", "value": "noise noise noise noise"}, {"from": "gt", "value": ANSWERS[1]}]},
    ]
    write_jsonl(root / "pref_official.jsonl", official)
    return root


@pytest.fixture(scope="session")
def tiny_model() -> str:
    from avcap.models.tiny import tiny_path

    tiny_path(TINY)  # build once per cache
    return TINY


@pytest.fixture
def captioner(tiny_model):
    from avcap.models import load_captioner

    return load_captioner(tiny_model, device="cpu")


@pytest.fixture(scope="session")
def clip(data_dir):
    from avcap.media import load_clip

    return load_clip(data_dir / "v0.mp4", policy="salmonn2")
