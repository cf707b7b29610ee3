"""DREAM-1K, Daily-Omni, WorldSense, UGC-VideoCap and VDC through a fake judge on 127.0.0.1.

Each fake judge answers per its prompt; the expected numbers are worked out by hand from those
answers and each benchmark's official rule.
"""

from __future__ import annotations

import pytest

from avcap.eval.benchmarks import Overrides, get_benchmark
from avcap.eval.benchmarks.runner import run_bench

from .conftest import by_prompt, make_job, numbered, write_json, write_jsonl
from .test_bench_formats import dream_row


def run(name, data, caps, out, server, **kw):
    return run_bench(make_job(name, data, [caps], out, server, **kw), progress=False).report


def test_dream1k_autodq_per_source_averages_lowercase_and_counted_failures(tmp_path, judge_server):
    rows = [dream_row(1, "animation", "The Boy Runs. The boy jumps.", ["The boy runs.", "The boy jumps."]),
            dream_row(2, "animation", "A cat sleeps.", ["A cat sleeps."]),
            dream_row(3, "live", "A man sits. A man stands.", None),  # events extracted from the reference
            dream_row(4, "live", "A car stops.", ["A car stops."])]
    data = write_jsonl(tmp_path / "dream.jsonl", rows)
    caps = write_jsonl(tmp_path / "caps.jsonl", [
        {"id": "1", "caption": 'The boy RUNS. A "dog" barks.'}, {"id": "2", "caption": "A cat sleeps."},
        {"id": "3", "caption": "A man sits."}, {"id": "4", "caption": "BADJUDGE here."}])
    seen = []

    def extract(sec, body):
        seen.append(sec["description"])
        assert "temperature" not in body and "seed" not in body  # the scorer sets neither
        return {"events": [s.strip() + "." for s in sec["description"].split(".") if s.strip()]}

    def entail(sec, body):
        if "badjudge" in sec["description"]:
            return "{broken"
        events, text = numbered(sec["events"]), sec["description"]
        return {"labels": [{"event": i + 1, "label": "entailment" if e.lower().rstrip(".") in text else "neutral"}
                           for i, e in enumerate(events)]}

    server = judge_server(by_prompt(autodq_events=extract, autodq_entail=entail))
    report = run("dream-1k", data, caps, tmp_path / "o", server, overrides=Overrides(retries=2))
    assert "the boy runs. a 'dog' barks." in seen  # lower-cased, double quotes turned single, as the scorer does
    s = report["caption_sets"][0]
    # Item 1: recall 1/2 ("the boy jumps" is missing), precision 1/2 (the dog is not in the reference).
    # Item 2: P = R = 1. Item 3: two reference events extracted, R = 1/2, P = 1/1. Item 4 fails.
    per = s["breakdown"]["per_source"]
    assert per["DREAM/animation"]["precision"] == pytest.approx(0.75) and per["DREAM/animation"]["recall"] == pytest.approx(0.75)
    assert per["DREAM/live"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "n_scored": 1, "n_failed": 1}
    p, r = (0.75 + 1.0) / 2, (0.75 + 0.5) / 2
    assert s["headline"]["f1"] == pytest.approx(2 * p * r / (p + r))  # F1 of the averaged P and R
    assert s["headline"]["n_dropped"] == 1 and s["runs"][0]["failures"][0]["id"] == "4"
    assert report["items"][3]["results"]["caps"][0]["attempts"] == 3  # 1 + the 2 retries asked for
    # No seed: each retry is the same request, sent again for a new sample of the server's default sampling.
    assert sum("badjudge" in str(b["messages"]) and "labels" in str(b["messages"]) for b in server.bodies) == 3
    assert get_benchmark("dream-1k").retries == 100
    assert report["bootstrap"]["strata"] == "source"


def qa_judge(sec, body):
    assert body["seed"] == 42 and body["top_p"] == 0.001 and body["temperature"] == 0
    caption = sec["caption"]
    if "FAIL" in caption:
        return "nothing useful"
    for word, letter in (("piano", "b"), ("drums", "B."), ("violin", "N/A")):
        if word in caption:
            return {"answer": letter}
    return {"answer": "A"}


def test_daily_omni_exact_match_abstention_and_failures_count_wrong(tmp_path, judge_server):
    questions = [{"Question": f"Q{i}?", "Choice": ["A. one", "B. two"], "Answer": "B", "video_id": f"v{i}",
                  "Type": "AV" if i < 2 else "Reasoning", "video_duration": "30s"} for i in range(4)]
    data = write_json(tmp_path / "qa.json", questions)
    caps = write_jsonl(tmp_path / "caps.jsonl", [{"v0": "a piano plays"}, {"v1": "drums roll"}, {"v2": "a violin"},
                                                 {"v3": "FAIL"}])
    server = judge_server(by_prompt(qa_answer=qa_judge))
    report = run("daily-omni", data, caps, tmp_path / "o", server, overrides=Overrides(retries=1))
    h = report["caption_sets"][0]["headline"]
    # "b" is right (case-insensitive), "B." is not an exact match, N/A is wrong, the failure counts wrong.
    assert h["accuracy"] == pytest.approx(1 / 4) and h["accuracy_answered"] == pytest.approx(1 / 3)
    assert h["n_failed"] == 1 and h["abstained"] == pytest.approx(1 / 3)
    assert report["caption_sets"][0]["breakdown"]["Type"] == {"AV": {"accuracy": 0.5, "n": 2},
                                                              "Reasoning": {"accuracy": 0.0, "n": 2}}
    lenient = run("daily-omni", data, caps, tmp_path / "o2", server, overrides=Overrides(retries=1, variant="lenient"),
                  variant="lenient")
    assert lenient["caption_sets"][0]["headline"]["accuracy"] == pytest.approx(2 / 4)
    assert lenient["deviations"] == ["1 retries (protocol: 9)", "variant lenient"]


def test_worldsense_groups_questions_by_video_for_the_bootstrap(tmp_path, judge_server):
    data = write_json(tmp_path / "worldsense_qa.json", {
        f"w{i}": {"video_duration": "60s", "domain": "Sports",
                  **{f"task{t}": {"task_type": f"T{t}", "task_domain": "D", "question": "Q?", "candidates": ["A. x", "B. y"],
                                  "answer": "A"} for t in range(2)}} for i in range(3)})
    caps = write_jsonl(tmp_path / "caps.jsonl", [{"video_id": f"w{i}", "caption": "plain"} for i in range(3)])
    server = judge_server(by_prompt(qa_answer=qa_judge))
    report = run("worldsense", data, caps, tmp_path / "o", server)
    s = report["caption_sets"][0]
    assert s["headline"]["accuracy"] == 1.0 and s["breakdown"]["task_type"]["T1"] == {"accuracy": 1.0, "n": 3}
    assert report["data"]["n_groups"] == 3 and report["data"]["n_items"] == 6
    assert {it["group"] for it in report["items"]} == {"w0", "w1", "w2"}


def test_ugc_failures_score_zero_and_stay_in_the_mean(tmp_path, judge_server):
    folder = tmp_path / "refs"
    folder.mkdir()
    for i in range(4):
        write_json(folder / f"PI-{i}.json", {"final_caption": {"caption_text": f"reference {i}"}})
    caps = write_jsonl(tmp_path / "caps.jsonl", [{"video_id": "PI-0", "caption": "good"}, {"video_id": "PI-1", "caption": "ok"},
                                                 {"video_id": "PI-2", "caption": "BAD"}, {"video_id": "PI-3", "caption": ""}])

    def grade(sec, body):
        assert body["temperature"] == 1 and body["model"] == "gpt-4o-2024-08-06"
        return {"good": {"visual": 5, "audio": 4, "details": 3}, "ok": {"visual": 2, "audio": 2, "details": 2},
                "BAD": {"visual": 9, "audio": 1, "details": 1}}[sec["prediction"]]  # 9 is out of range: a failure

    server = judge_server(by_prompt(ugc_score=grade))
    s = run("ugc-videocap", folder, caps, tmp_path / "o", server)["caption_sets"][0]
    h = s["headline"]
    # PI-3's empty caption is skipped; PI-2 counts 0 on every dimension.
    assert h["overall_percent"] == pytest.approx(((4 + 2 + 0) / 3) / 5 * 100)
    assert h["overall_percent_answered"] == pytest.approx(((4 + 2) / 2) / 5 * 100)
    assert h["visual"] == pytest.approx(7 / 3) and h["n_scored"] == 3 and h["n_failed"] == 1
    assert s["breakdown"]["n_skipped"] == 1


def test_vdc_drops_failed_and_zero_videos_by_the_official_rule(tmp_path, judge_server):
    qa = [{"question": "What color is the car?", "answer": "red", "category": "object"},
          {"question": "Where is it?", "answer": "a street", "category": "location"}]
    data = write_jsonl(tmp_path / "detailed.jsonl", [{f"vid{i}": qa} for i in range(4)])
    caps = write_jsonl(tmp_path / "caps.jsonl", [{"video_id": "vid0", "caption": "A red car on a street."},
                                                 {"video_id": "vid1", "caption": "A red car, MATCHFAIL."},
                                                 {"video_id": "vid2", "caption": "Nothing relevant."},
                                                 {"video_id": "vid3", "caption": "A red car somewhere."}])

    def answer(sec, body):
        assert body["max_tokens"] == 256 and "temperature" not in body
        caption = sec["description"]
        word = "red" if "color" in sec["question"] else "a street"
        return {"answer": word if word.split()[-1] in caption.lower() else "unknown", "_c": caption}

    def match(sec, body):
        if "MATCHFAIL" in sec["predicted"]:
            return "?"
        right = sec["predicted"] == sec["correct"]
        return {"pred": "yes" if right else "no", "score": 5 if right else 0}

    def answer_with_caption(sec, body):
        out = answer(sec, body)
        return {"answer": out["answer"] if "MATCHFAIL" not in out["_c"] or "color" in sec["question"]
                else "MATCHFAIL"}

    server = judge_server(by_prompt(vdc_answer=answer_with_caption, vdc_match=match))
    s = run("vdc-detailed", data, caps, tmp_path / "o", server)["caption_sets"][0]
    h = s["headline"]
    # vid0: 5,5 -> score 5, acc 1. vid1: one match unreadable -> dropped (drop_video). vid2: 0, 0 -> dropped
    # (score 0). vid3: red right, street wrong -> score 2.5, acc 0.5.
    assert h["score"] == pytest.approx((5 + 2.5) / 2) and h["accuracy"] == pytest.approx((1 + 0.5) / 2)
    assert (h["n_scored"], h["n_dropped"], h["n_failed"]) == (2, 2, 1)
    assert h["all_videos_score"] == pytest.approx((5 + 2.5 + 0 + 2.5) / 4)
    av = run("vdc-detailed", data, caps, tmp_path / "o2", server, overrides=Overrides(variant="avocado"),
             variant="avocado")["caption_sets"][0]["headline"]
    # AVoCaDO's copy keeps vid1 with its unreadable match at 0: score 2.5, acc 0.5.
    assert av["score"] == pytest.approx((5 + 2.5 + 2.5) / 3) and av["n_scored"] == 3
