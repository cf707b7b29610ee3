"""Fixtures: miniature checkpoints (built once per session) and generated videos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avcap.synth.sample import SampleVideoSpec, write_sample_video

# Durations differ so clips differ in frame count and audio length: padding matters in a batch.
DURATIONS = {"a.mp4": 1.0, "b.mp4": 2.5, "c.mp4": 1.5, "d.mp4": 3.0}


@pytest.fixture(scope="session")
def tiny_cache() -> Path:
    """The session's miniature cache (set once for the whole suite in tests/conftest.py)."""
    return Path(os.environ["AVCAP_TINY_DIR"])


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Miniatures run fastest on one thread (no contention on a shared CPU); restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    """Four short videos of different lengths (one without audio), small frames for speed."""
    root = tmp_path_factory.mktemp("videos")
    for name, duration in DURATIONS.items():
        spec = SampleVideoSpec(duration_s=duration, fps=8, width=64, height=48,
                               audio_rate_hz=None if name == "c.mp4" else 16_000, seed=len(name) + int(duration * 10))
        write_sample_video(root / name, spec)
    return root


@pytest.fixture(scope="session")
def videos(video_dir) -> list[Path]:
    return [video_dir / name for name in DURATIONS]


@pytest.fixture(scope="session")
def load_tiny(tiny_cache):
    """``load_tiny("tiny:omni")``: the captioner, loaded once per session."""
    from avcap.models import load_captioner

    loaded: dict[str, object] = {}

    def load(name: str):
        if name not in loaded:
            loaded[name] = load_captioner(name)
        return loaded[name]

    return load


@pytest.fixture(scope="session")
def clips_for(videos):
    """``clips_for(captioner)``: the four videos decoded with the captioner's own frame policy."""
    from avcap.media import load_clip

    cache: dict[str, list] = {}

    def decode(captioner):
        if captioner.frame_policy not in cache:
            cache[captioner.frame_policy] = [load_clip(v, policy=captioner.frame_policy) for v in videos]
        return cache[captioner.frame_policy]

    return decode


@pytest.fixture(scope="session")
def naive_logps():
    return _naive_logps


def _naive_logps(captioner, example) -> float:
    """Reference: full forward pass of one unpadded example, log-softmax over all logits."""
    import torch

    feats = dict(captioner.encode(example.clip, example.prompt))
    answer = captioner.tokenizer(example.answer, add_special_tokens=False)["input_ids"] + [captioner.end_of_turn_id]
    extra = torch.tensor([answer])
    feats["input_ids"] = torch.cat([feats["input_ids"], extra], dim=1)
    feats["attention_mask"] = torch.cat([feats["attention_mask"], torch.ones_like(extra)], dim=1)
    if "mm_token_type_ids" in feats:
        feats["mm_token_type_ids"] = torch.cat([feats["mm_token_type_ids"], torch.zeros_like(extra)], dim=1)
    with torch.no_grad():
        logits = captioner.model(**feats, **captioner.generate_kwargs).logits[0]
    logp = torch.log_softmax(logits.double(), dim=-1)
    n = feats["input_ids"].shape[1]
    return float(sum(logp[t - 1, feats["input_ids"][0, t]] for t in range(n - len(answer), n)))
