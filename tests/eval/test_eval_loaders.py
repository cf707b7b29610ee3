import pytest

from avcap.errors import DataError
from avcap.eval.captions import load_captions
from avcap.eval.loaders import load_benchmark

from .conftest import write_json, write_jsonl


def test_salmonn2_format_goes_through_avcap_data(bench_files):
    data, _, _ = bench_files
    bench = load_benchmark(data)
    assert bench.format == "salmonn2" and [r.id for r in bench.rows] == ["v1", "v2", "v3", "v4"]
    assert bench.rows[0].events and bench.rows[1].events is None and bench.rows[0].reference.startswith("A man")
    assert len(bench.errors) == 1 and "neither 'video' nor 'audio'" in str(bench.errors[0])
    assert str(bench.errors[0]).startswith(f"{data}:")


def test_dream1k_rows(tmp_path):
    rows = [
        {"idx": 7, "vid": "abc", "dataset": "animation", "messages": [
            {"role": "user", "content": [{"type": "video", "video": "videos/abc.mp4"},
                                         {"type": "text", "text": "Describe the video in detail."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A fox jumps. A bird flies."}]}],
         "extra_info": {"duration": 5.0, "events": ["A fox jumps.", "A bird flies."], "n_events": 2}},
        {"idx": 8, "messages": [{"role": "user", "content": "Describe."}]},  # no reference
        {"idx": 7, "messages": [{"role": "assistant", "content": "dup"}]},
    ]
    bench = load_benchmark(write_jsonl(tmp_path / "dream.jsonl", rows))
    assert bench.format == "dream1k" and len(bench.rows) == 1
    row = bench.rows[0]
    assert row.id == "7" and row.reference == "A fox jumps. A bird flies." and row.prompt == "Describe the video in detail."
    assert row.video == str((tmp_path / "videos/abc.mp4").resolve()) and row.raw["dataset"] == "animation"
    assert row.events is None  # AutoDQ reads extra_info.events itself; salmonn2 events are another protocol
    causes = [str(e) for e in bench.errors]
    assert any(":2: DREAM-1K row has no reference" in c for c in causes) and any("duplicate id '7'" in c for c in causes)


def test_qa_sets_in_several_styles(tmp_path):
    rows = [
        {"video_id": "001", "question_id": "001-1", "question": "What color is the car?",
         "options": ["A. Red.", "B. Blue.", "C. Green.", "D. White."], "answer": "B"},
        {"video_id": "002", "Question": "Who speaks first?", "Choice": ["(A) a man", "(B) a woman"], "Answer": "(A)"},
        {"video": "clips/003.mp4", "questions": [
            {"question": "How many dogs?", "options": {"A": "one", "B": "two"}, "answer": "two"},
            {"question": "Is it raining?", "options": ["yes", "no"], "answer": 0}]},
        {"video_id": "004", "question": "Bad?", "options": ["A. x", "B. y"], "answer": "E"},
        {"question": "no video", "options": ["x"], "answer": "A"},
    ]
    path = write_json(tmp_path / "qa.json", rows)
    bench = load_benchmark(path)
    assert bench.format == "qa" and not bench.rows
    got = [(q.id, q.video_key, q.answer, q.options[0]) for q in bench.qa]
    # A question without an id is named after its video and the line its row starts on.
    line_002 = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"002"' in text) - 1
    assert got == [("001-1", "001", "B", ("A", "Red.")), (f"002#L{line_002}", "002", "A", ("A", "a man")),
                   ("clips/003.mp4#0", "clips/003.mp4", "B", ("A", "one")), ("clips/003.mp4#1", "clips/003.mp4", "A", ("A", "yes"))]
    causes = " | ".join(str(e) for e in bench.errors)
    assert "answer 'E' is not one of the options AB" in causes and "QA row has no video id" in causes


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        load_benchmark(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text('[{"id": 1,')
    bench = load_benchmark(tmp_path / "broken.json")  # the shared reader: listed, not raised
    assert not bench.rows and "broken.json:1: invalid JSON" in str(bench.errors[0])


def test_captions_file(tmp_path):
    rows = [
        {"id": "a", "video": "/x/clips/a.mp4", "caption": "first", "model": "m", "error": None},
        {"id": "a", "video": "/x/clips/a.mp4", "caption": "retried", "model": "m", "error": None},
        {"id": "b", "caption": None, "error": "MediaError: b.mp4: corrupt"},
        {"id": "c", "caption": "second sample", "sample": 1},
        {"id": "d"},
        {"caption": "no id"},
        {"id": "e", "caption": 5},
    ]
    path = write_jsonl(tmp_path / "caps.jsonl", rows)
    with path.open("a") as f:
        f.write('{"id": "f", "capt')  # a killed writer's last line
    caps = load_captions(path)
    assert caps.name == "caps" and caps.model == "m"
    # A duplicate id is reported, not silently resolved by "the last wins".
    assert caps.rows["a"].caption == "first" and caps.rows["b"].error.startswith("MediaError")
    assert "c" not in caps.rows and caps.rows["d"].error == "the caption row has neither a caption nor an error"
    assert [str(e).split(": ", 1)[1] for e in caps.errors] == [
        "duplicate caption id 'a' (first at " + f"{path}:1); the first row is used", "caption row has no 'id'",
        "'caption' must be a string", "invalid JSON (Unterminated string starting at); the last line is incomplete"]
    assert caps.lookup("clip-a", "/y/clips/a.mp4").caption == "first"  # by video file name
    assert caps.lookup("a.mp4").caption == "first" and caps.lookup("zzz") is None
    assert load_captions(path, sample=1).rows["c"].caption == "second sample"
    with pytest.raises(DataError, match="captions file not found"):
        load_captions(tmp_path / "none.jsonl")
