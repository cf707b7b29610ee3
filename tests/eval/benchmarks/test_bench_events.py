"""The video-SALMONN 2 test-set protocol against a fake OpenAI-compatible judge on 127.0.0.1.

The fake judge's answer depends on the seed it is sent, so every run differs and the test can
recompute, independently of avcap, which seed answered each (item, run), the pooled rates of
every run, the median run, and the bootstrap interval from the same draws.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from avcap.eval.benchmarks import Overrides
from avcap.eval.benchmarks.runner import run_bench

from .conftest import by_prompt, make_job, numbered, write_json, write_jsonl

EVENTS = ["A man opens a door.", "A dog barks twice.", "Rain falls on the roof.", "A phone rings."]
BASE, RUNS, RETRIES = 2024, 7, 8
KINDS = ["plain", "plain", "plain", "FLAKY", "BROKEN", "DROP"]


def answer_for(seed: int) -> dict:
    k, h = seed % 3, seed % 2  # missing 0..2 events, hallucinate 0..1
    return {"missing": list(range(1, k + 1)), "incorrect": [], "hallucinated": ["A cat sings."] * h}


def judge(sec, body):
    seed, caption = body["seed"], sec["caption"]
    assert body["temperature"] == 0 and body["top_p"] == 0.1 and body["model"] == "gpt-3.5-turbo-0125"
    assert numbered(sec["events"]) == EVENTS
    if "BROKEN" in caption or "DROP" in caption or ("FLAKY" in caption and seed <= BASE + 2):
        return "{not json"
    return answer_for(seed)


def fallback(sec, body):
    if "DROP" in sec["caption"] and body["seed"] == BASE + 2 + RETRIES + 1:  # run 2's fallback seed
        return "still not json"
    return answer_for(body["seed"])


def answered_seed(kind: str, run: int) -> int | None:
    """Which seed's answer counts for (item, run), worked out from the protocol's rules by hand."""
    first = BASE + run
    if kind == "plain":
        return first
    if kind == "FLAKY":  # seeds <= 2026 fail: retry with the next seed until 2027
        return max(first, BASE + 3)
    if kind == "DROP" and run == 2:
        return None  # 9 main attempts and the fallback fail: dropped from run 2 only
    return first + RETRIES + 1  # BROKEN / DROP: the fallback prompt, after 8 retries


@pytest.fixture
def testset(tmp_path):
    rows = [{"video": f"v{i}.mp4", "conversations": [{"from": "human", "value": "<video>\nDescribe the video."},
                                                     {"from": "gpt", "value": " ".join(EVENTS)}], "events": EVENTS}
            for i in range(len(KINDS))]
    data = write_json(tmp_path / "test.json", rows)
    caps = [{"id": f"v{i}.mp4", "caption": f"A man opens a door {kind}.", "model": "m", "error": None,
             "finish_reason": "stop"} for i, kind in enumerate(KINDS)]
    return data, write_jsonl(tmp_path / "caps.jsonl", caps)


def test_seeds_retries_fallback_per_run_dropping_and_the_median_rule(testset, tmp_path, judge_server):
    data, caps = testset
    server = judge_server(by_prompt(salmonn2_judge=judge, salmonn2_judge_fallback=fallback))
    outcome = run_bench(make_job("salmonn2-testset", data, [caps], tmp_path / "out", server), progress=False)
    report = outcome.report
    s = report["caption_sets"][0]
    items = {it["id"]: it["results"]["caps"] for it in report["items"]}

    # Seeds: 2024 + run, +1 per retry; the fallback is the attempt after the 8th retry.
    flaky = items["v3.mp4"]
    assert [flaky[r]["seeds"] for r in range(3)] == [[2024, 2025, 2026, 2027], [2025, 2026, 2027], [2026, 2027]]
    assert flaky[3]["seeds"] == [2027] and flaky[6]["seeds"] == [2030]
    broken = items["v4.mp4"][0]
    assert broken["seeds"] == list(range(2024, 2024 + RETRIES + 2)) and broken["fallback"] is True
    assert items["v5.mp4"][2]["status"] == "failed" and items["v5.mp4"][2]["attempts"] == RETRIES + 2
    sent = sorted(b["seed"] for b in server.bodies if "DROP" in json.dumps(b["messages"]))
    assert sent == sorted(seed for r in range(RUNS) for seed in range(BASE + r, BASE + r + RETRIES + 2))
    assert all("response_format" in b for b in server.bodies)  # avcap's own prompts ask for JSON

    # Per-run dropping: the DROP item leaves run 2 only, and is counted and named there.
    assert [run["metrics"]["n_dropped"] for run in s["runs"]] == [0, 0, 1, 0, 0, 0, 0]
    assert s["runs"][2]["failures"][0]["id"] == "v5.mp4" and not s["runs"][3]["failures"]

    # Independent computation of every run's pooled rates, then the 4th of 7 sorted totals.
    expected = []
    for run in range(RUNS):
        seeds = [answered_seed(kind, run) for kind in KINDS]
        kept = [sd for sd in seeds if sd is not None]
        miss = sum(len(answer_for(sd)["missing"]) for sd in kept) / (4 * len(kept))
        hall = sum(len(answer_for(sd)["hallucinated"]) for sd in kept) / (4 * len(kept))
        expected.append((miss, hall, miss + hall))
    for run, (miss, hall, total) in enumerate(expected):
        got = s["runs"][run]["metrics"]
        assert (got["miss"], got["hall"], got["total"]) == pytest.approx((miss, hall, total))
    order = sorted(range(RUNS), key=lambda r: (expected[r][2], r))
    assert s["reported_run"] == order[3]
    assert s["headline"]["total"] == pytest.approx(expected[order[3]][2])
    totals = np.array([e[2] for e in expected])
    assert s["across_runs"]["total"]["mean"] == pytest.approx(totals.mean())
    assert s["across_runs"]["total"]["std"] == pytest.approx(totals.std(ddof=1))

    # The bootstrap interval, recomputed by brute force from the same draws.
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(KINDS), size=(200, len(KINDS)))
    reps = []
    for row in draws:
        per_run = []
        for run in range(RUNS):
            seeds = [answered_seed(KINDS[i], run) for i in row]
            kept = [sd for sd in seeds if sd is not None]
            per_run.append(sum(len(answer_for(sd)["missing"]) + len(answer_for(sd)["hallucinated"]) for sd in kept)
                           / (4 * len(kept)))
        reps.append(sorted(per_run)[3])
    low, high = np.quantile(reps, [0.025, 0.975])
    assert (s["interval"]["total"]["low"], s["interval"]["total"]["high"]) == pytest.approx((low, high))

    # What report.json records about the judge and the prompt.
    j = report["judge"]
    assert (j["model"], j["temperature"], j["top_p"], j["seed"], j["runs"], j["retries"]) == \
        ("gpt-3.5-turbo-0125", 0.0, 0.1, 2024, 7, 8)
    assert j["prompt"]["source"].startswith("avcap default") and len(j["prompt"]["keys"]) == 2
    assert j["served"] == {"gpt-3.5-turbo-0125": len(server.bodies)}  # the fake server echoes the model
    assert s["attempts"]["answered_by_fallback"] == 2 * RUNS - 1 and report["deviations"] == []

    # A re-run is served by the cache: no request, the same report.
    before = len(server.bodies)
    again = run_bench(make_job("salmonn2-testset", data, [caps], tmp_path / "out", server), progress=False)
    assert len(server.bodies) == before and again.report == report


def test_same_items_variant_drops_a_failed_item_from_every_run(testset, tmp_path, judge_server):
    data, caps = testset
    server = judge_server(by_prompt(salmonn2_judge=judge, salmonn2_judge_fallback=fallback))
    job = make_job("salmonn2-testset", data, [caps], tmp_path / "o", server, overrides=Overrides(variant="same_items"),
                   variant="same_items", n_boot=0)
    s = run_bench(job, progress=False).report["caption_sets"][0]
    assert [run["metrics"]["n_dropped"] for run in s["runs"]] == [1] * RUNS
    assert s["interval"] == {}


def test_collapsing_applies_only_to_captions_that_did_not_end_cleanly(tmp_path, judge_server):
    seen = []
    rows = [{"video": f"v{i}.mp4", "conversations": [], "events": EVENTS} for i in range(3)]
    data = write_json(tmp_path / "t.json", rows)
    loop = "The man walks. " * 5 + "He stops."
    caps = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "v0.mp4", "caption": loop, "finish_reason": "length"},  # cut by the token limit: collapsed
        {"id": "v1.mp4", "caption": loop, "finish_reason": "stop"},  # ended by itself: left alone
        {"id": "v2.mp4", "caption": loop + "<|im_end|>"},  # the end-of-turn token: ended, token removed
    ])

    def record(sec, body):
        seen.append(sec["caption"])
        return answer_for(body["seed"])

    server = judge_server(by_prompt(salmonn2_judge=record))
    job = make_job("salmonn2-testset", data, [caps], tmp_path / "o", server, overrides=Overrides(runs=1), n_boot=0)
    report = run_bench(job, progress=False).report
    assert set(seen) == {"The man walks. He stops.", loop.strip()}
    assert report["caption_sets"][0]["collapsed_captions"] == 1
    assert report["deviations"] == ["1 judge runs (protocol: 7)"]


OFFICIAL_SCRIPT = '''
import json

SYSTEM_PROMPT = "You are a strict referee of video captions; answer only in the requested format."


def build_prompt(gt_events, pred_caption):
    events_text = "\\n".join(f"{i + 1}. {e}" for i, e in enumerate(gt_events))
    return f"""OFFICIAL-TEST-PROMPT. Compare the caption with the ground-truth atomic events below and list
the missing events, the incorrectly described events and the hallucinated events, with how many of each.
Ground-truth events:
{events_text}
Caption: {pred_caption}
Reply with a Python dict."""


FALLBACK_TEMPLATE = ("OFFICIAL-TEST-FALLBACK. A shorter request, used after the judge failed: count the "
                     "missing, incorrect and hallucinated events of the caption. Events: {events} Caption: {caption}")


def fallback_prompt(events, caption):
    return FALLBACK_TEMPLATE.format(events=json.dumps(events), caption=caption)


def log(x):
    print(f"evaluated {x}")
'''


def test_the_official_prompt_is_read_from_the_script_beside_the_data(tmp_path, judge_server):
    rows = [{"video": f"v{i}.mp4", "conversations": [], "events": EVENTS} for i in range(2)]
    data = write_json(tmp_path / "test.json", rows)
    (tmp_path / "eval_testset.py").write_text(OFFICIAL_SCRIPT)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "v0.mp4", "caption": "A man opens a door.", "finish_reason": "stop"},
                                              {"id": "v1.mp4", "caption": "Fine FAILMAIN.", "finish_reason": "stop"}])
    namespace: dict = {}
    exec(compile(OFFICIAL_SCRIPT, "official", "exec"), namespace)  # Python's own rendering, to compare with
    got = []

    def official(sec, body):
        text = sec["text"]
        got.append((text, body))
        if text.startswith("OFFICIAL-TEST-PROMPT"):
            if "FAILMAIN" in text:
                return "I cannot answer."
            return {"Missing Events": ["A dog barks twice."], "Number of Missing Events": 1,
                    "Incorrect Events": [], "Hallucination Events": ["A cat sings.", "A cat sings."]}
        return {"missing_events": 2, "incorrect_events": 0, "hallucination_events": 1}  # counts only

    server = judge_server(by_prompt(official=official))
    job = make_job("salmonn2-testset", data, [caps], tmp_path / "o", server,
                   overrides=Overrides(runs=1, retries=1), n_boot=0)
    report = run_bench(job, progress=False).report
    first = got[0][0] if "FAILMAIN" not in got[0][0] else got[1][0]
    assert namespace["build_prompt"](EVENTS, "A man opens a door.") in (t for t, _ in got)
    assert first.startswith("OFFICIAL-TEST-PROMPT")
    assert namespace["fallback_prompt"](EVENTS, "Fine FAILMAIN.") in (t for t, _ in got)
    assert all("response_format" not in b for _, b in got)  # the official wording may not mention JSON
    assert all(b["messages"][0] == {"role": "system", "content": namespace["SYSTEM_PROMPT"]} for _, b in got)
    results = {it["id"]: it["results"]["c"][0] for it in report["items"]}
    assert (results["v0.mp4"]["n_missing"], results["v0.mp4"]["n_hallucinated"]) == (1, 2)
    assert results["v0.mp4"]["missing"] == [1]
    assert results["v1.mp4"]["fallback"] and results["v1.mp4"]["n_missing"] == 2 and "missing" not in results["v1.mp4"]
    prompt = report["judge"]["prompt"]
    assert prompt["source"] == "official script" and prompt["main"] == "build_prompt"
    assert prompt["fallback"] == "fallback_prompt.FALLBACK_TEMPLATE" and len(prompt["prompt_sha256"]) == 64
    assert "OFFICIAL-TEST-PROMPT" not in json.dumps(report["benchmark"])  # the text itself is not copied
