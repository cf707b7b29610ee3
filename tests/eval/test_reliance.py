"""Input reliance: the conditions, the gaps, and a captioner that reads only the sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avcap.eval.reliance import condition_clips, main, measure_reliance, reliance_from_nll
from avcap.media.clip import Clip


def _clip(i: int) -> Clip:
    return Clip(path=f"v{i}.mp4", frames=np.full((2, 4, 4, 3), 10 * i + 5, dtype=np.uint8),
                frame_times=np.array([0.0, 0.5]), audio=np.full(800, 0.1 * (i + 1), dtype=np.float32),
                duration_s=1.0, has_audio=True)


def test_conditions_change_only_what_they_name():
    clips = [_clip(i) for i in range(3)]
    cond = condition_clips(clips)
    assert cond["matched"] == clips
    assert all(not m.audio.any() and np.array_equal(m.frames, c.frames) for m, c in zip(cond["muted"], clips))
    assert all(not b.frames.any() and np.array_equal(b.audio, c.audio) for b, c in zip(cond["blank"], clips))
    assert [c.path for c in cond["swapped"]] == ["v1.mp4", "v2.mp4", "v0.mp4"]


def test_gaps_are_differences_to_matched():
    gaps = reliance_from_nll({"matched": 0.5, "muted": 0.9, "blank": 0.5, "swapped": 1.25})
    assert gaps == pytest.approx({"muted_minus_matched": 0.4, "blank_minus_matched": 0.0, "swapped_minus_matched": 0.75})


class SoundOnlyCaptioner:
    """log p(answer) = -(n tokens) * (1 + |loudness - wanted loudness|): depends on the sound only."""

    class model:  # noqa: N801 - mimics captioner.model
        @staticmethod
        def eval():
            return None

    def sequence_logps(self, batch, return_counts=False):
        logps, counts = [], []
        for ex in batch:
            n = len(ex.answer.split())
            wanted = float(ex.answer.split()[0])
            loud = float(np.abs(ex.clip.audio).max()) if ex.clip.audio.size else 0.0
            logps.append(-n * (1.0 + abs(loud - wanted)))
            counts.append(n)
        return torch.tensor(logps), torch.tensor(counts)


class Row:
    def __init__(self, i):
        self.prompt, self.reference = "Describe.", f"{0.1 * (i + 1):.1f} a b c"


def test_a_captioner_that_reads_only_the_sound_relies_on_sound_not_frames():
    rows = [Row(i) for i in range(4)]
    result = measure_reliance(SoundOnlyCaptioner(), rows, lambda row: _clip(rows.index(row)), batch_size=3)
    assert result["tokens"] == 16 and result["nll"]["matched"] == pytest.approx(1.0)
    assert result["blank_minus_matched"] == pytest.approx(0.0)
    # muted: |0 - wanted| = 0.1, 0.2, 0.3, 0.4 -> mean 0.25; swapped: 0.1, 0.1, 0.1, 0.3 -> mean 0.15
    assert result["muted_minus_matched"] == pytest.approx(0.25)
    assert result["swapped_minus_matched"] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="at least 2"):
        measure_reliance(SoundOnlyCaptioner(), rows[:1], lambda row: _clip(0))


def test_cli_on_a_real_miniature(tmp_path, capsys):
    import json

    from avcap.synth.dataset import DatasetConfig, build_dataset
    from avcap.synth.world import WorldConfig

    build_dataset(DatasetConfig(out=tmp_path, n=2, seed=4, world=WorldConfig(speech=False)), progress=False)
    main(["tiny:salmonn2-v1", str(tmp_path / "train.json"), "--n", "2", "--out", str(tmp_path / "r.json")])
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["rows"] == 2 and result["tokens"] > 0 and set(result["nll"]) == {"matched", "muted", "blank", "swapped"}
    assert json.loads(capsys.readouterr().out)["model"] == "tiny:salmonn2-v1"
