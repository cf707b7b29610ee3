"""Each metric through the runner with scripted judges whose answers give hand-computed numbers."""

import asyncio
import json
from collections import Counter

import pytest

from avcap.errors import ConfigError
from avcap.eval import EvalConfig, load_benchmark, load_captions, run_eval
from avcap.eval.report_json import Prices, build_report
from avcap.judge import Judge
from avcap.judge.backends.scripted import ScriptedBackend
from avcap.metrics.dialogue import dialogue_f1

from .conftest import EVENTS_V1, responder, write_json, write_jsonl


def run(bench, sets, backend, **cfg):
    config = EvalConfig(**cfg)
    result = asyncio.run(run_eval(bench, sets, Judge(backend) if backend else None, config))
    return build_report(bench, sets, result, config, prices=Prices(1.0, 2.0))


def numbered(body):
    return [line.split(". ", 1)[1] for line in body.splitlines()]


def test_salmonn2_pooled_rates_failures_and_extraction(bench_files):
    data, caps_a, _ = bench_files

    def judge(sec):
        caption = sec["caption"]
        if "kitchen" in caption:  # v1: 4 events
            return {"missing": [3], "incorrect": [4], "hallucinated": ["A cat jumps.", "x"]}
        return {"missing": [1, 2], "incorrect": [], "hallucinated": []}  # v2: 3 extracted events

    backend = ScriptedBackend(responder(
        salmonn2_events=lambda sec: {"events": ["A woman rides a bicycle.", "She waves.", "A bell rings."]},
        salmonn2_judge=judge))
    report = run(load_benchmark(data), [load_captions(caps_a)], backend)
    m = report["caption_sets"][0]["metrics"]["salmonn2"]
    # Pooled over v1 (4 events: 1 missing, 1 incorrect, 2 hallucinated) and v2 (3 events: 2 missing):
    assert m["miss"] == pytest.approx(3 / 7) and m["hall"] == pytest.approx(3 / 7) and m["total"] == pytest.approx(6 / 7)
    assert (m["n_items"], m["n_scored"], m["n_failed"], m["n_caption_failed"]) == (4, 2, 0, 2)
    assert m["distributions"]["total"] == [pytest.approx(1.0), pytest.approx(2 / 3)]
    failed = report["caption_sets"][0]["failed_captions"]
    assert failed == [{"id": "v3", "cause": "MediaError: v3.mp4: truncated file"},
                      {"id": "v4", "cause": "no caption for this item in the captions file"}]
    v2 = report["items"][1]["results"]["model_a"]["salmonn2"]
    assert v2["events_source"] == "judge" and v2["runs"][0]["missing"] == [0, 1]
    assert report["tokens"]["judgments"] == 3 and report["tokens"]["cost_usd"] == pytest.approx(
        (report["tokens"]["prompt"] + 2 * report["tokens"]["completion"]) / 1e6)


def test_median_run_protocol(tmp_path):
    rows = [{"id": "a", "video": "a.mp4", "events": EVENTS_V1}, {"id": "b", "video": "b.mp4", "events": ["e1", "e2"]}]
    data = write_json(tmp_path / "t.json", rows)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "caption": "cap a"}, {"id": "b", "caption": "cap b"}])
    calls = Counter()

    def judge(sec):
        if sec["caption"] == "cap b":
            return {"missing": [], "incorrect": [], "hallucinated": []}
        n = calls["a"]
        calls["a"] += 1
        return {"missing": [[1], [1, 2, 3], [1, 2]][n], "incorrect": [], "hallucinated": []}

    report = run(load_benchmark(data), [load_captions(caps)], ScriptedBackend(responder(salmonn2_judge=judge)), judge_runs=3)
    m = report["caption_sets"][0]["metrics"]["salmonn2"]
    # Three runs find 1, 3 and 2 of a's events missing (b is perfect); pooled over 6 events the
    # totals are 1/6, 3/6, 2/6: the median run is the one with 2/6, mean 2/6, sample std 1/6.
    assert m["total"] == pytest.approx(2 / 6) and m["runs"][m["median_run"]]["n_missing"] == 2
    assert m["mean"]["total"] == pytest.approx(2 / 6) and m["std"]["total"] == pytest.approx(1 / 6)
    assert sorted(r["n_missing"] for r in m["runs"]) == [1, 2, 3] and calls["a"] == 3


def test_a_run_that_fails_removes_the_item_from_all_runs(tmp_path):
    rows = [{"id": "a", "video": "a.mp4", "events": ["e1", "e2"]}, {"id": "b", "video": "b.mp4", "events": ["e1", "e2"]}]
    data = write_json(tmp_path / "t.json", rows)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "caption": "cap a"}, {"id": "b", "caption": "cap b"}])
    calls = Counter()

    def judge(sec):
        calls[sec["caption"]] += 1
        if sec["caption"] == "cap b" and calls["cap b"] == 2:
            return {"missing": "everything"}  # one bad answer; its re-asks are bad too
        if sec["caption"] == "cap b" and calls["cap b"] in (3, 4):
            return "still not json"
        return {"missing": [1], "incorrect": [], "hallucinated": []}

    report = run(load_benchmark(data), [load_captions(caps)], ScriptedBackend(responder(salmonn2_judge=judge)), judge_runs=2)
    m = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert (m["n_scored"], m["n_failed"]) == (1, 1) and all(r["n_items"] == 1 for r in m["runs"])
    (failure,) = report["caption_sets"][0]["judge_failures"]
    assert failure["id"] == "b" and failure["metric"] == "salmonn2"
    assert failure["cause"].startswith("1 of 2 runs failed: salmonn2.judge: malformed answer after 3 tries")


def test_autodq_uses_dream_events_and_entailment(tmp_path):
    rows = [{"idx": 1, "dataset": "stock", "messages": [{"role": "assistant", "content": "A fox jumps. A bird flies."}],
             "extra_info": {"events": ["A fox jumps.", "A bird flies."]}},
            {"idx": 2, "dataset": "shorts", "messages": [{"role": "assistant", "content": "A car stops."}]}]
    data = write_jsonl(tmp_path / "dream.jsonl", rows)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "caption": "A fox jumps high. A cat runs. A dog sits."},
                                               {"id": "2", "caption": "Nothing happens."}])

    def events(sec):
        text = sec["description"]
        return {"events": [] if text.startswith("Nothing") else [s.strip() + "." for s in text.split(".") if s.strip()]}

    def entail(sec):
        evs = numbered(sec["events"])
        return {"labels": [{"event": i + 1, "label": "entailment" if e.split()[1] in sec["description"] else "neutral"}
                           for i, e in enumerate(evs)]}

    backend = ScriptedBackend(responder(autodq_events=events, autodq_entail=entail))
    report = run(load_benchmark(data), [load_captions(caps)], backend, metrics=("autodq",))
    m = report["caption_sets"][0]["metrics"]["autodq"]
    # item 1 (stock): recall 1/2 (fox entailed, bird not); precision 1/3 (fox only).
    # item 2 (shorts): reference "A car stops." extracted by the judge, not entailed: recall 0; no caption
    # events: precision 1.0 (empty list scores 1). Overall = mean over the two sources.
    assert m["per_source"]["stock"]["recall"] == pytest.approx(0.5)
    assert m["per_source"]["stock"]["precision"] == pytest.approx(1 / 3)
    assert m["per_source"]["shorts"]["precision"] == 1.0 and m["per_source"]["shorts"]["recall"] == 0.0
    assert m["precision"] == pytest.approx((1 / 3 + 1) / 2) and m["recall"] == pytest.approx(0.25)
    descriptions = [r[1]["content"] for r in backend.requests if "key events" in r[0]["content"]]
    assert not any("A fox jumps. A bird flies." in d for d in descriptions)  # DREAM's own events were used


def test_checklist_dialogue_repetition(bench_files):
    data, _, caps_b = bench_files

    def keypoints(sec):
        return {"keypoints": [{"dimension": "Dynamic Action & Interaction", "text": f"k{i}"} for i in range(3)]
                + [{"dimension": "auditory", "text": "sound"}]}

    def dialogue(sec):
        text = sec["description"]
        if "Where is the coffee" in text:
            speaker = "a man in a red jacket" if "red jacket" in text else "a man"
            return {"dialogue": [{"speaker": speaker, "utterance": "Where is the coffee?"}]}
        return {"dialogue": []}

    backend = ScriptedBackend(responder(
        checklist_keypoints=keypoints, checklist_judge=lambda sec: {"correct": [1, 4]},
        dialogue_extract=dialogue, dialogue_speakers=lambda sec: {"same": [True]}))
    report = run(load_benchmark(data), [load_captions(caps_b)], backend, metrics=("checklist", "dialogue", "repetition"))
    metrics = report["caption_sets"][0]["metrics"]
    assert metrics["checklist"]["score"] == pytest.approx(0.5) and metrics["checklist"]["n_scored"] == 4
    assert metrics["checklist"]["per_dimension"]["Auditory Elements"]["score"] == 1.0
    assert metrics["checklist"]["per_dimension"]["Dynamic Action & Interaction"]["score"] == pytest.approx(1 / 3)
    v1 = report["items"][0]["results"]["model_b"]["dialogue"]
    expected = dialogue_f1([("a man in a red jacket", "Where is the coffee?")], [("a man", "Where is the coffee?")],
                           same_speaker={(0, 0): True})
    assert v1["f1"] == expected["f1"] == 1.0 and v1["pairs"] == [[0, 0, 1.0, True]]
    assert metrics["dialogue"]["n_with_dialogue"] == 1 and metrics["dialogue"]["f1_with_dialogue"] == 1.0
    assert metrics["repetition"]["repcol"] == 0.0 and metrics["repetition"]["n_scored"] == 4


def test_qa_by_caption(tmp_path):
    rows = [{"video_id": "v1", "question_id": f"q{i}", "question": f"Q{i}?", "options": ["A. x", "B. y", "C. z"],
             "answer": "B"} for i in range(3)]
    data = write_json(tmp_path / "qa.json", rows)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "v1", "caption": "a caption"}])
    answers = {"Q0?": "B", "Q1?": "N/A", "Q2?": "The answer is C."}
    backend = ScriptedBackend(responder(qa_answer=lambda sec: {"answer": answers[sec["question"]]}))
    report = run(load_benchmark(data), [load_captions(caps)], backend, metrics=("qa",))
    m = report["caption_sets"][0]["metrics"]["qa"]
    assert m["accuracy"] == pytest.approx(1 / 3) and m["abstained"] == 1 and m["n_scored"] == 3
    assert [it["results"]["c"]["qa"]["predicted"] for it in report["items"]] == ["B", None, "C"]


def test_config_and_applicability_errors(bench_files):
    data, caps_a, _ = bench_files
    with pytest.raises(ConfigError, match="unknown metric 'bleu'"):
        EvalConfig(metrics=("salmonn2", "bleu"))
    with pytest.raises(ConfigError, match="judge_runs"):
        EvalConfig(judge_runs=0)
    bench = load_benchmark(data)
    with pytest.raises(ConfigError, match="metric 'qa' needs multiple-choice questions"):
        run(bench, [load_captions(caps_a)], None, metrics=("qa",))
    with pytest.raises(ConfigError, match="need a judge"):
        run(bench, [load_captions(caps_a)], None, metrics=("salmonn2",))
    report = run(bench, [load_captions(caps_a)], None, metrics=("repetition",))  # no judge needed
    assert report["caption_sets"][0]["metrics"]["repetition"]["n_scored"] == 2
    json.dumps(report)
