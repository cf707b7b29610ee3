"""Training reads the official releases' rows: DPO roles for dpo/gdpo (and MrDPO's ground truth),
``use_audio: false``, ``timestamps`` and ``image`` rows decoded as they say."""

import json

import pytest

from avcap.data import load_dataset
from avcap.errors import DataError
from avcap.train.data import load_row_clip, preference_items
from avcap.train.pairs import _prompt_and_reference


def test_preference_items_from_both_releases_roles(data_dir):
    rows = load_dataset(data_dir / "pref_official.jsonl").rows
    plus, first = preference_items(rows, "default", need_reference=True)
    assert (plus.chosen, plus.rejected, plus.reference) == (rows[0].chosen, "noise noise noise noise", rows[0].reference)
    assert plus.reference == plus.chosen  # in this file the chosen answer is the ground truth
    assert (first.chosen, first.rejected, first.reference) == (rows[1].chosen, "noise noise noise noise", rows[1].reference)


def test_a_pair_without_a_rejected_answer_names_the_roles(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"video": "v.mp4", "conversations": [{"from": "human", "value": "x"},
                                                                    {"from": "chosen", "value": "y"}]}) + "\n")
    with pytest.raises(DataError, match="'reject' / 'reject_gpt' turn"):
        preference_items(load_dataset(path).rows, "default", need_reference=False)


def test_rows_decode_segments_visual_only_and_images(data_dir, tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "p.png")
    rows = [{"id": "seg", "video": str(data_dir / "v0.mp4"), "timestamps": [0.25, 0.75]},
            {"id": "mute", "video": str(data_dir / "v0.mp4"), "use_audio": False},
            {"id": "img", "image": str(tmp_path / "p.png")}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seg, mute, img = (load_row_clip(row, "salmonn2") for row in load_dataset(path, allow_outside_paths=True).rows)
    assert seg.duration_s == pytest.approx(0.5) and seg.audio.shape == (8000,)
    assert mute.audio.size == 0 and not mute.has_audio and mute.num_frames > 0
    assert img.is_image and img.frames.shape == (1, 20, 30, 3)


def test_new_pair_rows_keep_only_the_prompt_and_ground_truth_of_an_official_dpo_row():
    turns = [{"from": "human", "value": "<video>\nP"}, {"from": "gpt", "value": "gt"},
             {"from": "chosen", "value": "c"}, {"from": "reject", "value": "r"}]
    assert _prompt_and_reference(turns, "gt") == [{"from": "human", "value": "<video>\nP"}, {"from": "gpt", "value": "gt"}]
