"""Which pair a voter sees next: balanced over model pairs and videos, never the same pair twice.

Order of preference for the next matchup (ties broken at random):
1. the pair of models issued least often so far (every model pair gets comparisons at the
   same pace, which Bradley–Terry needs to separate all models, not just the popular ones);
2. within it, the video on which that model pair was issued least often;
3. then the video shown least often overall.

"Issued" counts matchups handed out, answered or not, so voters working at the same time
spread over the pairs instead of piling on the least-voted one. Every ``gold_every``-th matchup
of a voter is a gold pair (when one is left for them). A voter with an unanswered matchup gets
it again (a reload does not skip a pair). The two sides are drawn at random for each matchup.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

from avcap.arena.catalog import Catalog
from avcap.arena.store import AlreadyVoted, ArenaStore, Matchup
from avcap.arena.votes import GOLD_BETTER, GOLD_WORSE


@dataclass(frozen=True)
class Next:
    matchup: Matchup | None  # None: the voter has seen every pair
    remaining: int  # model pairs this voter has not been shown yet (after this one)


class Scheduler:
    def __init__(self, catalog: Catalog, store: ArenaStore, gold_every: int = 0, seed: int | None = None):
        if gold_every < 0:
            raise ValueError(f"gold_every must be >= 0, got {gold_every}")
        self.catalog, self.store, self.gold_every = catalog, store, gold_every
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pairs = catalog.pair_videos()
        self._keys = {(v, *p) for p, vids in self._pairs.items() for v in vids}
        self._n_pairs = len(self._keys)
        self._pair_count: Counter = Counter()  # (lo, hi) -> issued
        self._exact: Counter = Counter()  # (video, lo, hi) -> issued
        self._video_count: Counter = Counter()  # video -> issued
        for video, lo, hi, n in store.issued_counts():
            self._count(video, lo, hi, n)
        self._seen: dict[str, set[tuple[str, str, str]]] = {}

    def _count(self, video: str, lo: str, hi: str, n: int = 1) -> None:
        self._exact[(video, lo, hi)] += n
        if lo != GOLD_BETTER:
            self._pair_count[(lo, hi)] += n
            self._video_count[video] += n

    def _seen_by(self, voter: str) -> set[tuple[str, str, str]]:
        if voter not in self._seen:
            self._seen[voter] = self.store.seen(voter)
        return self._seen[voter]

    def _least(self, options: list, key) -> object:
        best = min(key(o) for o in options)
        return self._rng.choice([o for o in options if key(o) == best])

    def _model_pair(self, seen: set) -> tuple[str, str, str] | None:
        open_pairs = {p: [v for v in vids if (v, *p) not in seen] for p, vids in self._pairs.items()}
        open_pairs = {p: vids for p, vids in open_pairs.items() if vids}
        if not open_pairs:
            return None
        pair = self._least(list(open_pairs), lambda p: self._pair_count[p])
        video = self._least(open_pairs[pair], lambda v: (self._exact[(v, *pair)], self._video_count[v]))
        return video, *pair

    def _gold(self, seen: set) -> str | None:
        left = [g for g in self.catalog.gold if (g, GOLD_BETTER, GOLD_WORSE) not in seen]
        return self._least(left, lambda g: self._exact[(g, GOLD_BETTER, GOLD_WORSE)]) if left else None

    def _remaining(self, seen: set) -> int:
        return self._n_pairs - len(seen & self._keys)

    def next_for(self, voter: str) -> Next:
        with self._lock:
            seen = self._seen_by(voter)
            pending = self.store.pending(voter)
            if pending is not None:
                return Next(pending, self._remaining(seen))
            gold_turn = self.gold_every and len(seen) % self.gold_every == self.gold_every - 1
            gold = self._gold(seen) if gold_turn else None
            if gold is not None:
                item = self.catalog.gold[gold]
                key = (gold, GOLD_BETTER, GOLD_WORSE)
                sides = [(GOLD_BETTER, item.better), (GOLD_WORSE, item.worse)]
                video, video_path = gold, item.video_path
            else:
                picked = self._model_pair(seen)
                if picked is None:
                    return Next(None, 0)
                key = picked
                video, lo, hi = picked
                sides = [(lo, self.catalog.captions[lo][video]), (hi, self.catalog.captions[hi][video])]
                video_path = self.catalog.videos[video]
            self._rng.shuffle(sides)
            matchup = Matchup(secrets.token_urlsafe(18), voter, video, video_path,
                              "gold" if gold is not None else "model", sides[0][0], sides[1][0],
                              sides[0][1], sides[1][1], time.time())
            try:
                self.store.issue(matchup)
            except AlreadyVoted:  # another process issued it; our memory was stale
                self._seen[voter] = self.store.seen(voter)
                raise
            seen.add(key)
            self._count(*key)
            return Next(matchup, self._remaining(seen))
