"""report.json is a pure function of captions + judgments; report.html is self-contained and complete."""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from avcap.eval import EvalConfig, EvalJob, run_job
from avcap.eval.report_svg import bin_counts, svg_histogram, word_diff
from avcap.judge import Judge, JudgeCache, heuristic
from avcap.judge import prompts as P
from avcap.judge.backends.scripted import ScriptedBackend

ALL = ("salmonn2", "autodq", "checklist", "dialogue", "repetition")


def heuristic_but_v2_fails(messages):
    """The heuristic judge, except that it never gives a usable salmonn2 verdict for model_a's v2."""
    if P.identify(messages) is P.SALMONN2_JUDGE and "rides a bicycle along a river and" in messages[1]["content"]:
        return "I cannot answer that."
    return heuristic.answer(messages)


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.ids, self.classes, self.stack, self.errors = [], set(), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.classes.extend((attrs.get("class") or "").split())
        if tag not in {"meta", "br", "line", "rect", "input", "img"}:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in {"line", "rect"}:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


@pytest.fixture
def job(bench_files, tmp_path):
    data, caps_a, caps_b = bench_files
    return EvalJob(data=data, captions=[caps_a, caps_b], out=tmp_path / "out", judge="scripted",
                   config=EvalConfig(metrics=ALL, judge_runs=3))


def scripted_judge(job):
    return Judge(ScriptedBackend(heuristic_but_v2_fails), JudgeCache(job.out / "judge_cache.sqlite"))


def test_report_json_is_pure_and_a_rerun_is_free(job):
    first = run_job(job, progress=False, judge=scripted_judge(job))
    first_bytes = first.report_path.read_bytes()
    assert first.stats.calls > 0
    again = run_job(job, progress=False, judge=scripted_judge(job))
    # Only the failed judgments are asked again (3 runs x 3 tries for v2); everything else is cached.
    assert again.stats.failures == 3 and again.stats.calls == 9 and again.stats.cache_hits > 0
    assert again.report_path.read_bytes() == first_bytes
    assert (job.out / "run.json").exists()
    report = first.report
    a, b = report["caption_sets"]
    assert (a["name"], b["name"], a["model"]) == ("model_a", "model_b", "model-a")
    assert [f["id"] for f in a["failed_captions"]] == ["v3", "v4"] and not b["failed_captions"]
    assert {(f["id"], f["metric"]) for f in a["judge_failures"]} == {("v2", "salmonn2")}
    assert "malformed answer after 3 tries" in a["judge_failures"][0]["cause"]
    assert report["data_errors"] and "neither 'video' nor 'audio'" in report["data_errors"][0]
    assert report["tokens"]["judgments"] > 0 and report["tokens"]["cost_usd"] is None
    assert [it["id"] for it in report["items"]] == ["v1", "v2", "v3", "v4"]


def test_report_html_has_table_histograms_failures_and_drill_down(job):
    outcome = run_job(job, progress=False, judge=scripted_judge(job))
    html = outcome.html_path.read_text()
    parser = Collector()
    parser.feed(html)
    assert not parser.errors and parser.stack == []
    assert {"aggregate", "histograms", "failures", "items", "item-v1", "item-v2", "item-v3", "item-v4"} <= parser.ids
    assert parser.tags.count("svg") >= 2 * 7  # two caption files x (3 salmonn2 + 2 autodq + checklist + dialogue + ...)
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)  # each histogram is well-formed XML
    assert {"missed", "incorrect", "ok"} <= set(parser.classes)
    assert "<ins>" in html and "<del>" in html  # model_b shown against model_a
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<link" not in html and " src=" not in html  # nothing to fetch: opens offline
    assert "failed caption: MediaError: v3.mp4: truncated file" in html
    assert "malformed answer after 3 tries" in html
    assert "Miss %" in html and "Total %" in html and "AutoDQ F1" in html
    # The drill-down for v1 lists its ground-truth events, marked.
    v1 = html[html.index('id="item-v1"'):html.index('id="item-v2"')]
    assert "Soft piano music plays." in v1 and 'class="missed"' in v1


def test_histogram_bins_by_hand():
    assert bin_counts([0.0, 0.05, 0.1, 0.55, 1.0, 1.0, 1.7], 0.0, 1.0, 10, overflow=True) == [2, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1]
    assert bin_counts([1.7, -0.2], 0.0, 1.0, 4, overflow=False) == [1, 0, 0, 1]
    svg = svg_histogram([0.1, 0.2, 0.25], title="t <&>", bins=4)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and sum(1 for e in root.iter() if e.tag.endswith("rect")) == 4
    assert "t &lt;&amp;&gt; (n=3)" in svg
    with pytest.raises(ValueError):
        bin_counts([], 1.0, 1.0, 3, overflow=False)


def test_word_diff():
    assert word_diff("a b c", "a x c d") == "a <del>b</del> <ins>x</ins> c <ins>d</ins>"
    assert word_diff("<b>", "<i>") == "<del>&lt;b&gt;</del> <ins>&lt;i&gt;</ins>"


def test_qa_report_renders(tmp_path):
    from .conftest import write_json, write_jsonl

    rows = [{"video_id": "v1", "question_id": "q1", "question": "What does the man open?",
             "options": ["A. a window", "B. the door", "C. a box"], "answer": "B"},
            {"video_id": "v1", "question_id": "q2", "question": "Which song plays?",
             "options": ["A. jazz", "B. rock"], "answer": "A"}]
    data = write_json(tmp_path / "qa.json", rows)
    caps = write_jsonl(tmp_path / "c.jsonl", [{"id": "v1", "caption": "A man opens the door slowly."}])
    job = EvalJob(data=data, captions=[caps], out=tmp_path / "out", judge="scripted",
                  config=EvalConfig(metrics=("qa", "repetition")))
    outcome = run_job(job, progress=False)
    qa = outcome.report["caption_sets"][0]["metrics"]["qa"]
    assert qa["accuracy"] == 0.5 and qa["abstained"] == 1  # the caption says nothing about music: N/A
    html = outcome.html_path.read_text()
    assert 'id="item-q1"' in html and "answered B (gold B): correct" in html and "answered N/A (gold A): wrong" in html
    assert "QA acc." in html and 'id="item-v1"' in html  # repetition is scored once per video
