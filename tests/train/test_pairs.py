"""MrDPO round data: sampling, scoring (scripted, judge backend, symbolic), Table 6 selection, resume."""

from __future__ import annotations

import json

import pytest

from avcap.metrics.events import EventCounts
from avcap.train.configs import SamplingArgs, ScorerArgs
from avcap.train.data import load_rows, preference_items
from avcap.train.pairs import read_samples, sample_round, score_round, select_round
from avcap.train.scoring import JudgeScorer, ScoreFailure, SymbolicScorer, make_scorer


class CountingCaptioner:
    """The real tiny captioner, counting generate calls (to prove a resumed round skips done videos)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.model, self.frame_policy = inner.model, inner.frame_policy

    def caption(self, clips, prompt, generation):
        self.calls += len(clips)
        return self.inner.caption(clips, prompt, generation)


def _rows(data_dir):
    return load_rows(data_dir / "train.jsonl", what="t")


def test_sampling_writes_k_captions_per_video_and_resumes(captioner, data_dir, tmp_path):
    rows = _rows(data_dir)
    counting = CountingCaptioner(captioner)
    sampling = SamplingArgs(num_samples=2, max_new_tokens=4, batch_videos=2)
    sample_round(counting, rows[:2], tmp_path, sampling, "Describe.", seed=0)
    assert counting.calls == 2
    sample_round(counting, rows, tmp_path, sampling, "Describe.", seed=0)  # resumed: only the third video
    assert counting.calls == 3
    samples = read_samples(tmp_path)
    assert sorted(samples) == ["v0", "v1", "v2"]
    assert all(len(c) == 2 and all(isinstance(t, str) for t in c) for c in samples.values())


def test_sampling_shards_rows_across_ranks(captioner, data_dir, tmp_path):
    rows = _rows(data_dir)
    sampling = SamplingArgs(num_samples=2, max_new_tokens=2, batch_videos=4)
    for rank in (0, 1):
        sample_round(captioner, rows, tmp_path, sampling, "Describe.", seed=0, rank=rank, world=2)
    ids = {r: [json.loads(line)["id"] for line in (tmp_path / f"samples-{r}.jsonl").read_text().splitlines()]
           for r in (0, 1)}
    assert ids == {0: ["v0", "v2"], 1: ["v1"]}


def _write_samples(round_dir, captions: dict[str, list[str]]):
    round_dir.mkdir(parents=True, exist_ok=True)
    (round_dir / "samples-0.jsonl").write_text(
        "".join(json.dumps({"id": i, "captions": c, "error": None}) + "\n" for i, c in captions.items()))


def test_scores_are_appended_and_failures_retried(data_dir, tmp_path):
    rows = _rows(data_dir)
    _write_samples(tmp_path, {"v0": ["good", "bad"], "v1": ["fail", "ok"]})
    calls = []

    def flaky(rows_, captions):
        calls.append(list(captions))
        return [ScoreFailure("judge timed out") if c == "fail" and len(calls) == 1 else EventCounts(4, 1, 0, 0)
                for c in captions]

    scores = score_round(rows, tmp_path, flaky)
    assert scores[("v1", 0)]["error"] == "judge timed out"
    assert scores[("v0", 0)]["total"] == pytest.approx(0.25)
    scores = score_round(rows, tmp_path, flaky)  # only the failed caption is judged again
    assert calls[1] == ["fail"] and scores[("v1", 0)]["error"] is None
    assert score_round(rows, tmp_path, flaky) and len(calls) == 2  # nothing left to do


def test_selection_follows_table6_and_writes_preference_rows(data_dir, tmp_path):
    rows = _rows(data_dir)
    # v0: Δe = 0.50 (4 events: 1 vs 3 missing); v1: Δe = 0.25; v2: equal errors, no pair.
    counts = {"v0": [EventCounts(4, 3, 0, 0), EventCounts(4, 1, 0, 0)],
              "v1": [EventCounts(4, 1, 0, 0), EventCounts(4, 2, 0, 0)],
              "v2": [EventCounts(4, 1, 0, 0), EventCounts(4, 1, 0, 0)]}
    _write_samples(tmp_path, {i: [f"{i} caption a", f"{i} caption b"] for i in counts})
    scores = score_round(rows, tmp_path, lambda rs, cs: [counts[r.id][0 if cs[k].endswith("a") else 1]
                                                         for k, r in enumerate(rs)])
    pairs, stats = select_round(rows, tmp_path, scores, round_index=2, thresholds=(0.20, -0.01))
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("v0", "v0 caption b", "v0 caption a"), ("v1", "v1 caption a", "v1 caption b")]
    assert pairs[0]["scores"]["delta_e"] == pytest.approx(0.5)
    pairs, stats = select_round(rows, tmp_path, scores, round_index=3, thresholds=(0.30, -0.01))
    assert [p["id"] for p in pairs] == ["v0"] and stats["pairs"] == 1 and stats["captions_scored"] == 6
    # pairs.jsonl is a valid gDPO dataset: the row, its ground truth, chosen and rejected.
    items = preference_items(load_rows(tmp_path / "pairs.jsonl", what="preference", allow_outside_paths=True),
                             "Describe.", need_reference=True)
    assert items[0].chosen == "v0 caption b" and items[0].reference == "a red square moves right"
    assert json.loads((tmp_path / "pair_stats.json").read_text())["mean_delta_e"] == pytest.approx(0.5)


def test_max_miss_rise_keeps_pairs_won_by_saying_less_out(data_dir, tmp_path):
    """EventCounts(n, missing, incorrect, hallucinated). v0: the terse caption (3 missed, 0 invented:
    75 %) beats the full one (0 missed, 4 invented: 100 %) on total error alone; v1's winner
    misses no more than its loser."""
    rows = _rows(data_dir)[:2]
    counts = {"v0": [EventCounts(4, 3, 0, 0), EventCounts(4, 0, 0, 4)],
              "v1": [EventCounts(4, 1, 0, 0), EventCounts(4, 1, 0, 2)]}
    _write_samples(tmp_path, {i: [f"{i} caption a", f"{i} caption b"] for i in counts})
    scores = score_round(rows, tmp_path, lambda rs, cs: [counts[r.id][0 if cs[k].endswith("a") else 1]
                                                         for k, r in enumerate(rs)])
    paper, _ = select_round(rows, tmp_path, scores, round_index=1, thresholds=(0.05, -1.0))
    assert [(p["id"], p["chosen"]) for p in paper] == [("v0", "v0 caption a"), ("v1", "v1 caption a")]
    guarded, stats = select_round(rows, tmp_path, scores, round_index=1, thresholds=(0.05, -1.0), max_miss_rise=0.0)
    assert [(p["id"], p["chosen"]) for p in guarded] == [("v1", "v1 caption a")]
    assert stats["thresholds"]["max_miss_rise"] == 0.0
    # Allowing the chosen caption 75 points more misses lets v0's pair back in.
    loose, _ = select_round(rows, tmp_path, scores, round_index=1, thresholds=(0.05, -1.0), max_miss_rise=0.75)
    assert [p["id"] for p in loose] == ["v0", "v1"]


def test_an_empty_sample_never_enters_a_pair(data_dir, tmp_path):
    """An empty caption misses all 4 events (100 %) and beats a garbled one (3 missing + 3 invented,
    150 %), but it is no caption: the pair is not made and the empty sample is counted."""
    rows = _rows(data_dir)[:1]
    _write_samples(tmp_path, {"v0": ["", "garbled caption"]})
    scores = score_round(rows, tmp_path, lambda rs, cs: [EventCounts(4, 4, 0, 0) if not c else EventCounts(4, 3, 0, 3)
                                                         for c in cs])
    pairs, stats = select_round(rows, tmp_path, scores, round_index=1, thresholds=(0.05, -1.0))
    assert pairs == [] and stats["captions_empty"] == 1 and stats["captions_scored"] == 2


def test_judge_scorer_counts_events_with_a_backend(data_dir, tmp_path):
    """The LLM-judge path (scripted heuristic backend here), cached in SQLite."""
    rows = _rows(data_dir)
    scorer = make_scorer(ScorerArgs(kind="judge", backend="scripted"), tmp_path)
    assert isinstance(scorer, JudgeScorer)
    scores = scorer([rows[0], rows[1]], ["a red square moves right", "a dog barks"])
    assert all(isinstance(s, EventCounts) for s in scores)
    assert [s.n_events for s in scores] == [1, 2]
    assert scores[0].n_missing == 0 and scores[1].n_missing + scores[1].n_incorrect >= 1
    assert (tmp_path / "judge_cache.sqlite").is_file()
    assert scorer([rows[0]], ["a red square moves right"]) == scores[:1]  # from the cache


def test_symbolic_scorer_is_exact_on_the_synthetic_world():
    from avcap.data import DatasetRow
    from avcap.synth.language import atomic_events
    from avcap.synth.sampler import sample_script

    events = atomic_events(sample_script(0))
    row = DatasetRow(id="s0", video=None, audio=None, prompt=None, reference=None, events=events, raw={})
    perfect, one_missing = SymbolicScorer()([row, row], [" ".join(events), " ".join(events[1:])])
    assert perfect == EventCounts(len(events), 0, 0, 0)
    assert one_missing.n_missing == 1
    failed = SymbolicScorer()([DatasetRow("x", None, None, None, None, None, {})], ["text"])[0]
    assert isinstance(failed, ScoreFailure)
