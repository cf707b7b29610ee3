"""Gold pairs from ground truth; decisive votes as DPO preference rows that the DPO loader reads."""

import json
import random

import pytest

from avcap.arena.export import leaderboard_csv, preference_rows, votes_csv
from avcap.arena.gold import corrupt_caption, gold_rows
from avcap.arena.ranking import leaderboard
from avcap.arena.votes import Vote
from avcap.data import load_dataset

GT = ("A green circle appears at the bottom. After that, two beeps sound. Then, the word LOOK appears on the screen. "
      "Next, the green circle turns red. Finally, a purple triangle appears on the left.")


def test_corruption_drops_events_and_changes_a_colour():
    worse = corrupt_caption(GT, random.Random(0))
    assert worse is not None and worse != GT
    assert worse.startswith("A ") and worse.count(".") < GT.count(".")  # first sentence kept, some dropped
    colours = {"red", "green", "blue", "yellow", "purple", "white"}
    words_gt = [w.strip(".,").lower() for w in GT.split()]
    words_worse = [w.strip(".,").lower() for w in worse.split()]
    # a colour not named in the ground truth now appears, or a named one changed its count
    assert any(words_worse.count(c) > words_gt.count(c) for c in colours)
    assert corrupt_caption("Nothing here", random.Random(0)) is None


def test_gold_rows_from_a_dataset(tmp_path):
    (tmp_path / "v1.mp4").write_bytes(b"x")
    data = tmp_path / "d.json"
    data.write_text(json.dumps([
        {"id": "v1", "video": "v1.mp4", "conversations": [{"from": "human", "value": "<video>\nDescribe."},
                                                          {"from": "gpt", "value": GT}]},
        {"id": "v2", "video": "v1.mp4"},  # no ground truth
    ]))
    rows, skipped = gold_rows(load_dataset(data).rows, seed=0)
    assert [r["id"] for r in rows] == ["v1"] and rows[0]["better"] == GT and rows[0]["worse"] != GT
    assert rows[0]["video"] == str((tmp_path / "v1.mp4").resolve())
    assert len(skipped) == 1 and "v2" in skipped[0]


def _v(video, left, right, answer, voter="u"):
    return Vote(voter, 0.0, video, "model", left, right, f"{left} on {video}", f"{right} on {video}", answer)


def test_preference_rows_margin_ties_and_majority(tmp_path):
    votes = [_v("x", "a", "b", "left"), _v("x", "b", "a", "right", voter="w"), _v("x", "a", "b", "right", voter="z"),
             _v("y", "a", "b", "tie"), _v("y", "a", "b", "bad", voter="w"),
             _v("z", "b", "c", "left")]
    rows = preference_rows(votes, {"x": "x.mp4", "y": "y.mp4", "z": "z.mp4"}, tmp_path)
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"x:a>b", "z:b>c"}  # y had only ties
    assert by_id["x:a>b"]["chosen"] == "a on x" and by_id["x:a>b"]["rejected"] == "b on x"
    assert by_id["x:a>b"]["scores"]["arena"] == {"chosen_model": "a", "rejected_model": "b", "votes_chosen": 2,
                                                 "votes_rejected": 1, "ties": 0}
    assert by_id["x:a>b"]["video"] == str(tmp_path / "x.mp4")
    assert [r["id"] for r in preference_rows(votes, {"x": "x.mp4", "z": "z.mp4", "y": "y.mp4"}, tmp_path,
                                             min_margin=2)] == []
    with pytest.raises(ValueError):
        preference_rows(votes, {}, tmp_path, min_margin=0)


def test_dpo_loader_reads_arena_rows(tmp_path, files):
    from avcap.train.data import ClipDataset, PreferenceCollator, load_rows, preference_items

    av_video = files.videos / "v000.mp4"  # a real 3 s clip with sound
    videos = files.videos
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"id": "x", "video": str(av_video), "conversations": [
        {"from": "human", "value": "<video>\nDescribe the video in detail."}, {"from": "gpt", "value": GT}]}]))
    votes = [_v("x", "a", "b", "left"), _v("x", "a", "c", "right"), _v("x", "b", "c", "left")]
    rows = preference_rows(votes, {"x": av_video.name}, videos, rows=load_dataset(data, allow_outside_paths=True).by_id())
    assert len(rows) == 3
    out = tmp_path / "pairs.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rows[0]["video"] == str(av_video)  # outside the output's folder: absolute, and training names the root
    items = preference_items(load_rows(out, what="preference", media_root=videos), "default prompt",
                             need_reference=True)  # gDPO too
    assert {(i.chosen, i.rejected) for i in items} == {("a on x", "b on x"), ("c on x", "a on x"), ("b on x", "c on x")}
    assert all(i.prompt == "Describe the video in detail." and i.reference == GT for i in items)
    batch = PreferenceCollator(with_ground_truth=True)([ClipDataset(items, "salmonn2")[0]])
    assert len(batch.chosen) == 1 and batch.chosen[0].answer == items[0].chosen
    assert batch.chosen[0].clip.frames.shape[0] > 0
    # without --data, written beside the videos: a bare row with a relative video path, read as is
    bare = videos.parent / "bare_pairs.jsonl"
    bare_rows = preference_rows(votes, {"x": av_video.name}, videos, out_dir=bare.parent)
    assert bare_rows[0]["video"] == f"videos/{av_video.name}"
    bare.write_text("".join(json.dumps(r) + "\n" for r in bare_rows))
    assert len(preference_items(load_rows(bare, what="preference"), "p", need_reference=False)) == 3


def test_csv_exports():
    votes = [_v("x", "a", "b", "left"), _v("y", "b", "a", "tie")]
    text = votes_csv([{**v.to_dict(), "id": i, "video_path": f"{v.video}.mp4"} for i, v in enumerate(votes)])
    lines = text.strip().splitlines()
    assert lines[0].startswith("id,voter,time,video,video_path,kind,model_left,model_right,answer")
    assert len(lines) == 3
    board_csv = leaderboard_csv(leaderboard(votes, rounds=10)).strip().splitlines()
    assert board_csv[0].startswith("model,votes,wins") and len(board_csv) == 3
