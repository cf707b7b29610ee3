"""Tarsier2 negative sampling: ỹ is sampled from the corrupted clip, y from the clean one; resume; failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avcap.data import load_dataset
from avcap.media import load_clip
from avcap.media.corrupt import CORRUPTIONS
from avcap.train import negatives
from avcap.train.negatives import (
    NegativeSamplingArgs,
    read_samples,
    sample_candidates,
    score_candidates,
    side_paths,
    write_stats,
)
from tests.train.negdpo_helpers import OrderScorer, TimesCaptioner, describe, make_videos, told_times


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("neg_videos"))


def _rows(path):
    return load_dataset(path).rows


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_the_rejected_caption_is_sampled_from_the_corrupted_clip(kind, videos, tmp_path, monkeypatch):
    monkeypatch.setattr(negatives, "draw_kind", lambda seed: kind)
    rows = _rows(videos)
    samples, _ = side_paths(tmp_path / "pairs.jsonl")
    sample_candidates(TimesCaptioner(), rows, samples, NegativeSamplingArgs(second_sample=True, batch_size=2))
    recs = read_samples(samples)
    assert sorted(recs) == ["v0", "v1", "v2"]
    for row in rows:
        rec, clean = recs[row.id], load_clip(row.video, "salmonn2").frame_times.tolist()
        caps, corruption = rec["candidates"], rec["corruption"]
        assert caps["clean"] == describe(row.video, clean, 0) and caps["clean_2"] == describe(row.video, clean, 1)  # y, y': clean clip
        assert corruption["kind"] == kind and rec["clean_frame_times"] == clean
        shown = told_times(caps["corrupted"])  # ỹ: the frames of the corrupted clip, not the clean ones
        assert shown != clean
        assert shown == pytest.approx(corruption["frame_times"], abs=0.26)  # crop decodes at the nearest frame
        if kind != "crop":  # reorder / drop kinds reuse the clean frames, at the recorded positions
            assert set(shown) <= set(clean)


def test_kinds_are_seeded_per_video_and_recorded(videos, tmp_path):
    rows = _rows(videos)
    a, b = tmp_path / "a.samples.jsonl", tmp_path / "b.samples.jsonl"
    sample_candidates(TimesCaptioner(), rows, a, NegativeSamplingArgs(batch_size=3))
    sample_candidates(TimesCaptioner(), rows[::-1], b, NegativeSamplingArgs(batch_size=1))
    ra, rb = read_samples(a), read_samples(b)
    assert {k: v["corruption"] for k, v in ra.items()} == {k: v["corruption"] for k, v in rb.items()}
    assert all(set(r["corruption"]) == {"kind", "seed", "params", "frame_times"} for r in ra.values())
    other = read_samples(_sample(rows, tmp_path / "c.samples.jsonl", seed=5))
    assert [r["corruption"]["seed"] for r in other.values()] != [r["corruption"]["seed"] for r in ra.values()]


def _sample(rows, path, **kw):
    sample_candidates(TimesCaptioner(), rows, path, NegativeSamplingArgs(**kw))
    return path


def test_resume_neither_resamples_nor_rejudges(videos, tmp_path):
    rows = _rows(videos)
    out = tmp_path / "pairs.jsonl"
    samples, stats_path = side_paths(out)
    cap, scorer = TimesCaptioner(), OrderScorer()
    args = NegativeSamplingArgs(batch_size=2)
    sample_candidates(cap, rows[:2], samples, args)  # killed after two videos
    score_candidates(rows[:2], samples, out, scorer, "order-scorer")
    assert (cap.calls, scorer.calls) == (4, 4)  # clean + corrupted per video
    first_lines = out.read_text()
    summary = sample_candidates(cap, rows, samples, args)
    score_candidates(rows, samples, out, scorer, "order-scorer")
    assert (summary.skipped, summary.sampled) == (2, 1) and (cap.calls, scorer.calls) == (6, 6)
    assert out.read_text().startswith(first_lines)  # appended, earlier rows untouched
    sample_candidates(cap, rows, samples, args)
    score_candidates(rows, samples, out, scorer, "order-scorer")
    assert (cap.calls, scorer.calls) == (6, 6)  # nothing left to do
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["v0", "v1", "v2"]
    assert all(r["filter"]["negative"]["kept"] and r["filter"]["negative"]["delta_p"] == 0.5 for r in lines)
    stats = write_stats(out, samples, stats_path, len(rows), 0.3, "release")
    assert stats["negative"]["kept"] == 3 and stats["failed_judging"] == 0


def test_a_failed_judgment_is_retried_from_the_stored_captions(videos, tmp_path):
    rows = _rows(videos)
    out = tmp_path / "pairs.jsonl"
    samples, stats_path = side_paths(out)
    cap = TimesCaptioner()
    sample_candidates(cap, rows, samples, NegativeSamplingArgs())
    scored, failed = score_candidates(rows, samples, out, OrderScorer(fail_ids={"v1"}), "order-scorer")
    assert (scored, failed) == (2, 1)
    bad = [json.loads(line) for line in out.read_text().splitlines() if json.loads(line)["error"]]
    assert bad == [{"id": "v1", "error": "v1: judge down", "stage": "judge", "judge": "order-scorer"}]
    assert write_stats(out, samples, stats_path, 3, 0.3, "release")["failed_judging"] == 1
    calls, retry = cap.calls, OrderScorer()
    sample_candidates(cap, rows, samples, NegativeSamplingArgs())
    assert score_candidates(rows, samples, out, retry, "order-scorer") == (1, 0)
    assert cap.calls == calls and retry.calls == 2  # v1's two captions judged again, nothing sampled
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["v0", "v2", "v1"]


def test_a_bad_video_is_an_error_row_and_the_batch_goes_on(videos, tmp_path):
    rows = _rows(videos)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    rows[1].video = str(broken)
    samples = tmp_path / "p.samples.jsonl"
    summary = sample_candidates(TimesCaptioner(), rows, samples, NegativeSamplingArgs(batch_size=3))
    assert (summary.sampled, summary.failed) == (2, 1)
    errors = [json.loads(line) for line in samples.read_text().splitlines() if json.loads(line)["error"]]
    assert len(errors) == 1 and errors[0]["id"] == "v1" and "\n" not in errors[0]["error"]


def test_resuming_with_other_settings_is_refused(videos, tmp_path):
    from avcap.errors import ConfigError

    rows = _rows(videos)[:1]
    samples = _sample(rows, tmp_path / "p.samples.jsonl")
    with pytest.raises(ConfigError, match="settings"):
        sample_candidates(TimesCaptioner(), rows, samples, NegativeSamplingArgs(temperature=1.0))


def test_corrupted_clip_reuses_frames_for_reorder_kinds(videos):
    from avcap.media.corrupt import corrupt

    row = _rows(videos)[0]
    clean = load_clip(row.video, "salmonn2")
    c = corrupt(clean.frame_times.tolist(), "reverse", seed=3)
    bad = negatives.corrupted_clip(clean, c, row, "salmonn2")
    assert np.array_equal(bad.frames, clean.frames[c.indices]) and bad.meta["corruption"] == "reverse"
    assert np.array_equal(bad.audio, clean.audio)  # only the frames are corrupted
