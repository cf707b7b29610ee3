"""The shipped builtin:nano still scores what it scored when it was shipped, on a fixed held-out slice.

``training_report.json["pin"]`` is written by ``python -m avcap.train.nano_report RUN --ship
avcap/assets/nano`` (or ``python -m avcap.train.nano_pin avcap/assets/nano``). Greedy float32
decoding on the CPU is deterministic for a fixed batch (checked with 1 and 2 threads), so the
scores must match to rounding: a change anywhere on the caption path (media, model, decoding,
judge) that moves the shipped model's captions fails here, with the videos whose caption changed.
"""

import json
from pathlib import Path

import pytest

from avcap.models.registry import resolve_checkpoint
from avcap.train.nano_pin import PIN_KEYS, PIN_N, PIN_SEED, pin_slice

TOLERANCE = 1e-9  # scores are ratios of small integers, computed the same way both times


def shipped_pin() -> dict:
    report = json.loads((Path(resolve_checkpoint("builtin:nano")) / "training_report.json").read_text())
    if "pin" not in report:
        pytest.fail("avcap/assets/nano/training_report.json has no 'pin': ship with "
                    "`python -m avcap.train.nano_report runs/nano --ship avcap/assets/nano` or run "
                    "`python -m avcap.train.nano_pin avcap/assets/nano`")
    return report["pin"]


def test_shipped_nano_scores_its_pinned_held_out_slice(tmp_path: Path):
    pinned = shipped_pin()
    assert pinned["slice"]["seed"] == PIN_SEED and len(pinned["ids"]) == PIN_N
    now = pin_slice("builtin:nano", tmp_path)
    assert now["ids"] == pinned["ids"]
    changed = {i: (pinned["captions"][i], now["captions"][i]) for i in now["ids"]
               if now["captions"][i] != pinned["captions"].get(i)}
    for key in PIN_KEYS:
        assert (now[key] is None) == (pinned[key] is None), key
        if now[key] is not None:
            assert now[key] == pytest.approx(pinned[key], abs=TOLERANCE), (key, changed)
