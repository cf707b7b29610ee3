"""Shared material for the Tarsier2 negative-sampling tests: 4-second videos, a captioner that tells
which frames it was shown, and scripted AutoDQ scorers."""

from __future__ import annotations

import json
from pathlib import Path

from avcap.synth.sample import SampleVideoSpec, write_sample_video

ANSWERS = ["a red square moves right", "a tone plays then noise", "the square crosses the frame"]


def make_videos(root: Path, n: int = 3) -> Path:
    """``n`` 4 s videos at 4 fps (4 frames under the salmonn2 policy) and their rows; returns train.jsonl."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        write_sample_video(root / f"v{i}.mp4", SampleVideoSpec(duration_s=4.0, fps=4, width=48, height=32, seed=i))
        rows.append({"id": f"v{i}", "video": f"v{i}.mp4", "conversations": [
            {"from": "human", "value": "<video>\nDescribe the video."},
            {"from": "gpt", "value": ANSWERS[i % len(ANSWERS)]}]})
    path = root / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def describe(video: str, times, sample: int) -> str:
    return f"{Path(video).stem} frames " + " ".join(f"{float(t):.2f}" for t in times) + f" sample {sample}"


def told_times(caption: str) -> list[float]:
    return [float(x) for x in caption.split(" sample ")[0].split(" frames ")[1].split()]


class TimesCaptioner:
    """Captions a clip with the times of the frames it received (no model): which clip made which caption."""

    name = "times-captioner"
    frame_policy = "salmonn2"
    default_prompt = "Describe."
    model = None

    def __init__(self):
        self.calls = 0  # clips captioned
        self.seen: list[list[float]] = []

    def caption(self, clips, prompt, generation):
        self.calls += len(clips)
        out = []
        for clip in clips:
            self.seen.append([float(t) for t in clip.frame_times])
            out += [describe(clip.path, clip.frame_times, s) for s in range(generation.num_samples)]
        return out


class OrderScorer:
    """AutoDQ stand-in: a caption of the frames in time order scores (1, 1), any other (0.5, 0.5).

    So y (clean) always beats ỹ by ΔP = ΔR = 0.5 >= δ, and y' ties y (never kept by the filter).
    """

    name = "order-scorer"

    def __init__(self, fail_ids=()):
        self.calls = 0
        self.fail_ids = set(fail_ids)

    def __call__(self, rows, captions):
        from avcap.train.scoring import ScoreFailure

        self.calls += len(captions)
        out = []
        for row, caption in zip(rows, captions):
            if row.id in self.fail_ids:
                out.append(ScoreFailure(f"{row.id}: judge down"))
                continue
            times = told_times(caption)
            out.append((1.0, 1.0) if times == sorted(times) and len(times) == 4 else (0.5, 0.5))
        return out
