"""Loaders on files the tests write in each release's published format, and the caption layouts."""

import json

import pytest

from avcap.errors import DataError
from avcap.eval.benchmarks.captions import ended_cleanly, load_bench_captions
from avcap.eval.benchmarks.formats import load_bench_data

from .conftest import write_json, write_jsonl


def dream_row(idx, source, reference, events=None, prediction=None):
    # The release's layout: the ground truth under the assistant part's "reference", the
    # prediction (if any) under its "text"; the video as {"video_file": ...}.
    row = {"messages": [
        {"role": "user", "content": [{"type": "video", "video": {"video_file": f"{idx}.mp4"}, "text": None, "reference": None},
                                     {"type": "text", "text": "Describe the video in detail.", "reference": None}]},
        {"role": "assistant", "content": [{"type": "text", "text": prediction, "reference": reference}]}],
        "dataset": f"DREAM/{source}", "task": "video/caption", "idx": idx, "vid": idx}
    if events is not None:
        row["extra_info"] = {"duration": 4.0, "events": events, "n_events": len(events), "n_shots": 1, "n_subjects": 1}
    return row


def test_dream1k_reads_the_reference_field_not_the_prediction(tmp_path):
    path = write_jsonl(tmp_path / "dream.jsonl", [
        dream_row(135, "movie_animation", "The boy threw the ball.", ["The boy threw the ball."], prediction="A boy plays."),
        dream_row(457, "vertical_video", "A cat jumps.", []),  # an empty event list is still "given"
        dream_row(9, "videvo", "A hand lifts mats."),  # no extra_info: events are extracted
        {"messages": [], "dataset": "DREAM/x", "idx": 1},
    ])
    data = load_bench_data(path, "dream1k")
    items = {it.id: it for it in data.items}
    assert items["135"].reference == "The boy threw the ball." and items["135"].stratum == "DREAM/movie_animation"
    assert items["135"].video.endswith("135.mp4") and items["135"].meta["n_events"] == 1
    assert items["457"].events == [] and items["9"].events is None
    assert len(data.errors) == 1 and "no reference" in str(data.errors[0])


def test_salmonn2_testset_rows_need_events(tmp_path):
    conv = [{"from": "human", "value": "<video>\nDescribe."}, {"from": "gpt", "value": "A man walks."}]
    path = write_json(tmp_path / "t.json", [{"video": "a.mp4", "conversations": conv, "events": ["A man walks."]},
                                            {"video": "b.mp4", "conversations": conv}])
    data = load_bench_data(path, "salmonn2")
    assert [it.id for it in data.items] == ["a.mp4"] and "no 'events'" in str(data.errors[0])


def test_daily_omni_flat_and_grouped(tmp_path):
    flat = write_json(tmp_path / "qa.json", [
        {"Question": "What plays?", "Choice": ["A. piano", "B. drums", "C. violin", "D. flute"], "Answer": "B",
         "video_id": "v1", "Type": "AV Event Alignment", "video_category": "music", "video_duration": "30s"},
        {"Question": "Who speaks?", "Choice": ["A. a man", "B. a woman"], "Answer": "A", "video_id": "v1",
         "Type": "Reasoning", "video_duration": "30s"},
        {"Question": "Broken", "Choice": ["A. x"], "Answer": "Z", "video_id": "v2"},
    ])
    data = load_bench_data(flat, "daily_omni")
    assert [(it.id, it.group, it.answer) for it in data.items] == [("v1#0", "v1", "B"), ("v1#1", "v1", "A")]
    assert data.items[0].options[1] == ("B", "drums") and data.items[0].meta["Type"] == "AV Event Alignment"
    assert "not one of the options" in str(data.errors[0])
    grouped = write_json(tmp_path / "grouped.json", [
        {"video_id": "v9", "video_duration": "60s", "questions": [
            {"Question": "What falls?", "Choice": ["A. rain", "B. snow"], "Answer": "A"}]}])
    item = load_bench_data(grouped, "daily_omni").items[0]
    assert (item.id, item.meta["video_duration"]) == ("v9#0", "60s")


def test_worldsense_object_per_video(tmp_path):
    path = write_json(tmp_path / "worldsense_qa.json", {
        "abc": {"video_id": "abc", "video_duration": "60s", "domain": "Sports", "audio_class": ["Speech"],
                "task0": {"task_domain": "Recognition", "task_type": "Audio Recognition", "question": "What sound?",
                          "candidates": ["A. bell", "B. horn"], "answer": "B"},
                "task1": {"task_domain": "Reasoning", "task_type": "Causal Reasoning", "question": "Why?",
                          "candidates": ["A. rain", "B. wind"], "answer": "A"}},
        "def": {"video_duration": "30s"},
    })
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte-order mark changes nothing
    data = load_bench_data(path, "worldsense")
    assert [it.id for it in data.items] == ["abc#task0", "abc#task1"]
    assert data.items[0].meta == {"task_type": "Audio Recognition", "task_domain": "Recognition", "domain": "Sports",
                                  "video_duration": "60s"}
    assert "no task* questions" in str(data.errors[0])
    with pytest.raises(DataError, match="keyed by video id"):
        load_bench_data(write_json(tmp_path / "l.json", []), "worldsense")


def test_ugc_folder_of_per_video_files_and_single_file(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    (folder / "PI-1.json").write_text(json.dumps({"final_caption": {"caption_text": "A girl dances to music."}}))
    (folder / "PI-2.json").write_text(json.dumps({"final_caption": {}}))
    data = load_bench_data(folder, "ugc")
    assert [(it.id, it.reference) for it in data.items] == [("PI-1", "A girl dances to music.")]
    assert "final_caption.caption_text" in str(data.errors[0])
    single = write_jsonl(tmp_path / "refs.jsonl", [{"video_id": "PI-3", "final_caption": {"caption_text": "Dogs run."}}])
    assert load_bench_data(single, "ugc").items[0].id == "PI-3"


def test_vdc_detailed_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "detailed.jsonl", [
        {"vid-1": [{"question": "What is shown?", "answer": "moss", "category": "object"},
                   {"question": "Where?", "answer": "an engine", "category": "location"}]},
        {"vid-2": []},
    ])
    data = load_bench_data(path, "vdc")
    assert [len(it.qa) for it in data.items] == [2] and data.items[0].qa[1]["category"] == "location"
    assert "non-empty list" in str(data.errors[0])
    with pytest.raises(DataError, match="no usable vdc items"):
        load_bench_data(write_jsonl(tmp_path / "e.jsonl", [{"v": []}]), "vdc")


def test_caption_layouts_of_the_official_pipelines(tmp_path):
    avcap = write_jsonl(tmp_path / "a.jsonl", [{"id": "v1", "caption": "x", "finish_reason": "length"},
                                               {"id": "v2", "caption": None, "error": "MediaError: bad"},
                                               {"id": "v1", "caption": "y", "finish_reason": "stop"},
                                               {"id": "v2", "caption": "retried", "finish_reason": "stop"}])
    c = load_bench_captions(avcap)
    assert c.layout == "avcap" and c.ended == {"v1": False, "v2": True}
    assert c.set.rows["v1"].caption == "x" and "duplicate caption id 'v1'" in str(c.set.errors[0])
    assert c.set.rows["v2"].caption == "retried" and len(c.set.errors) == 1  # an error row, then its retry
    vid = load_bench_captions(write_jsonl(tmp_path / "b.jsonl", [{"video_id": "PI-1", "caption": "y"}]))
    assert vid.layout == "video_id" and vid.set.rows["PI-1"].caption == "y"
    pairs = load_bench_captions(write_jsonl(tmp_path / "c.jsonl", [{"vid9": "a caption"}]))
    assert pairs.layout == "id_to_caption" and pairs.set.rows["vid9"].caption == "a caption"
    dream = load_bench_captions(write_jsonl(tmp_path / "d.jsonl", [dream_row(7, "s", "ref", prediction="pred text")]))
    assert dream.layout == "dream_prediction" and dream.set.rows["7"].caption == "pred text"


@pytest.mark.parametrize("row, caption, expected", [
    ({"finish_reason": "stop"}, "A cat.", (True, "A cat.")),
    ({"finish_reason": "length"}, "A cat.", (False, "A cat.")),
    ({"generation": {"finish_reason": "length"}}, "A cat.", (False, "A cat.")),
    ({"truncated": True}, "A cat.", (False, "A cat.")),
    ({"audit": {"truncated": False}}, "A cat.", (True, "A cat.")),
    ({}, "A cat.<|im_end|>", (True, "A cat.")),
    ({}, "A cat.", (None, "A cat.")),
])
def test_ended_cleanly(row, caption, expected):
    assert ended_cleanly(row, caption) == expected
