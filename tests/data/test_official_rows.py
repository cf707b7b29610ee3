"""The official releases' own data files load: their DPO roles and the row fields they use."""

import json
from pathlib import Path

import pytest

from avcap.data import load_dataset
from avcap.errors import DataError

# video_SALMONN2_plus/scripts/example_dpo.json and scripts/example_dpo.json (first release), filled in.
PLUS_DPO = {"video": "v.mp4", "use_audio": True, "conversations": [
    {"from": "human", "value": "<video>\nPrompt"}, {"from": "gpt", "value": "GT Response"},
    {"from": "chosen", "value": "chosen response"}, {"from": "reject", "value": "rejected response"}]}
V1_DPO = {"video": "v.mp4", "audio": "v.wav", "conversations": [
    {"from": "human", "value": "<image>\nPrompt"}, {"from": "gpt", "value": "Chosen response"},
    {"from": "reject_gpt", "value": "Rejected response"}, {"from": "gt", "value": "Ground truth response"}]}


def _load(tmp_path: Path, rows: list[dict]):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    return load_dataset(path)


def test_both_releases_dpo_roles_give_prompt_pair_and_ground_truth(tmp_path):
    ds = _load(tmp_path, [PLUS_DPO, {**V1_DPO, "id": "v1"}])
    assert ds.errors == []
    plus, first = ds.rows
    assert (plus.prompt, plus.reference, plus.chosen, plus.rejected) == (
        "Prompt", "GT Response", "chosen response", "rejected response")
    # first release: the gpt turn is the chosen answer, gt the ground truth
    assert (first.prompt, first.reference, first.chosen, first.rejected) == (
        "Prompt", "Ground truth response", "Chosen response", "Rejected response")


def test_row_options(tmp_path):
    rows = [
        {**PLUS_DPO, "id": "a", "use_audio": False, "timestamps": [2, 7.5]},
        {"id": "b", "video": "v.mp4", "prefix": "The video shows",
         "conversations": [{"role": "user", "content": "<video>\nDescribe."},
                           {"from": "gpt", "value": "", "prefix": "In the clip"}]},
        {"id": "c", "image": "pic.png", "conversations": [{"from": "human", "value": "<image>\nWhat is shown?"}]},
        {"id": "d", "video": "v.mp4", "conversations": [{"from": "human", "value": "Hi"},
                                                        {"from": "gpt", "value": "", "prefix": "In the clip"}]},
    ]
    a, b, c, d = _load(tmp_path, rows).rows
    assert (a.use_audio, a.timestamps) == (False, (2.0, 7.5))
    assert b.use_audio and b.timestamps is None and b.prefix == "The video shows"  # the row's own field wins
    assert b.prompt == "Describe."  # role/content turns (as the 2+ loader also reads them)
    assert c.image == str((tmp_path / "pic.png").resolve()) and c.video is None and c.prompt == "What is shown?"
    assert d.prefix == "In the clip"  # the first release reads it from the last turn


@pytest.mark.parametrize("row,message", [
    ({"video": "v.mp4", "use_audio": "no"}, "'use_audio' must be true or false"),
    ({"video": "v.mp4", "timestamps": [5, 2]}, "0 <= start < end"),
    ({"video": "v.mp4", "timestamps": "0-5"}, "'timestamps' must be \\[start, end\\]"),
    ({"video": "v.mp4", "prefix": 3}, "'prefix' must be a string"),
    ({"image": ["a.png", "b.png"]}, "one image path"),
    ({"video": "v.mp4", "conversations": [{"from": "narrator", "value": "x"}]}, "unknown role 'narrator'"),
    ({**PLUS_DPO, "conversations": PLUS_DPO["conversations"] + [{"from": "gt", "value": "x"}]}, "mixes the 2\\+ roles"),
    ({**PLUS_DPO, "chosen": "a", "rejected": "b"}, "not both"),
    ({"conversations": []}, "neither 'video' nor 'audio' nor 'image'"),
])
def test_bad_official_fields_are_one_line_errors_naming_the_row(tmp_path, row, message):
    ds = _load(tmp_path, [{"video": "ok.mp4"}, row])
    assert len(ds.rows) == 1 and len(ds.errors) == 1
    text = str(ds.errors[0])
    assert f"{tmp_path / 'rows.json'}:1:" in text or ":1:" in text
    assert "\n" not in text
    with pytest.raises(DataError, match=message):
        raise ds.errors[0]
