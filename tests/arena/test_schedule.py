"""Scheduler: balanced over model pairs and videos, no repeats per voter, gold mixed in, reload-safe."""

import json
from collections import Counter
from pathlib import Path

from avcap.arena.catalog import load_catalog
from avcap.arena.schedule import Scheduler
from avcap.arena.store import ArenaStore
from avcap.arena.votes import GOLD_BETTER


def _catalog(tmp_path: Path, n_videos=6, models=("a", "b", "c", "d"), gold=0):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(n_videos):
        (videos / f"v{i}.mp4").write_bytes(b"x")
    sources = []
    for m in models:
        p = tmp_path / f"{m}.jsonl"
        p.write_text("".join(json.dumps({"id": f"v{i}", "caption": f"{m} {i}", "error": None}) + "\n"
                             for i in range(n_videos)))
        sources.append((m, p))
    gold_path = None
    if gold:
        gold_path = tmp_path / "gold.jsonl"
        gold_path.write_text("".join(json.dumps({"id": f"v{i}", "better": f"good {i}", "worse": f"bad {i}"}) + "\n"
                                     for i in range(gold)))
    return load_catalog(sources, videos, gold_path)


def _answer(store, voter, m):
    store.record_vote(voter, m.token, "left")


def test_balance_no_repeats_random_sides(tmp_path):
    cat = _catalog(tmp_path)
    store = ArenaStore(tmp_path / "a.sqlite")
    sched = Scheduler(cat, store, seed=0)
    issued = []
    for _ in range(12):
        for voter in ("p", "q", "r"):
            nxt = sched.next_for(voter)
            issued.append(nxt.matchup)
            _answer(store, voter, nxt.matchup)
    pairs = Counter((min(m.model_left, m.model_right), max(m.model_left, m.model_right)) for m in issued)
    assert len(pairs) == 6 and max(pairs.values()) - min(pairs.values()) <= 1  # 36 matchups over 6 model pairs
    videos = Counter(m.video for m in issued)
    assert max(videos.values()) - min(videos.values()) <= 1
    for voter in ("p", "q", "r"):
        keys = [m.pair for m in issued if m.voter == voter]
        assert len(keys) == len(set(keys))
    lefts = Counter(m.model_left for m in issued)
    assert len(lefts) == 4  # every model shows up on the left at some point


def test_voter_runs_out_and_pending_is_returned_again(tmp_path):
    cat = _catalog(tmp_path, n_videos=2, models=("a", "b"))
    store = ArenaStore(tmp_path / "a.sqlite")
    sched = Scheduler(cat, store, seed=1)
    first = sched.next_for("p")
    assert first.remaining == 1
    assert sched.next_for("p").matchup.token == first.matchup.token  # reload: same pair, same sides
    _answer(store, "p", first.matchup)
    second = sched.next_for("p")
    assert second.matchup.pair != first.matchup.pair and second.remaining == 0
    _answer(store, "p", second.matchup)
    done = sched.next_for("p")
    assert done.matchup is None and done.remaining == 0


def test_restart_keeps_counts_and_history(tmp_path):
    cat = _catalog(tmp_path, n_videos=3, models=("a", "b"))
    store = ArenaStore(tmp_path / "a.sqlite")
    sched = Scheduler(cat, store, seed=2)
    seen = []
    for _ in range(2):
        m = sched.next_for("p").matchup
        seen.append(m.pair)
        _answer(store, "p", m)
    again = Scheduler(cat, ArenaStore(tmp_path / "a.sqlite"), seed=2)  # a restarted server
    m = again.next_for("p").matchup
    assert m.pair not in seen
    # a new voter gets the video issued least so far (the one "p" got last)
    assert again.next_for("q").matchup.video not in {m.video}


def test_gold_every_nth(tmp_path):
    cat = _catalog(tmp_path, n_videos=6, models=("a", "b"), gold=2)
    store = ArenaStore(tmp_path / "a.sqlite")
    sched = Scheduler(cat, store, gold_every=3, seed=3)
    kinds = []
    while (nxt := sched.next_for("p")).matchup is not None:
        kinds.append(nxt.matchup.kind)
        if nxt.matchup.kind == "gold":
            assert GOLD_BETTER in (nxt.matchup.model_left, nxt.matchup.model_right)
        _answer(store, "p", nxt.matchup)
    # positions 3 and 6 are gold; after both gold pairs are used only model pairs remain
    assert kinds == ["model", "model", "gold", "model", "model", "gold", "model", "model"]
