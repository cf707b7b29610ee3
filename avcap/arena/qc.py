"""Voter quality control: agreement with gold pairs, and who to leave out of the ranking.

A gold pair is a video with a known-better caption (the ground truth) and a known-worse one
(the ground truth corrupted: events dropped, a colour changed). It is mixed in among the real
pairs, looks like any other pair, and is never ranked. A voter's agreement is the share of
their gold votes that picked the better caption; a tie or "both bad" on gold counts as a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from avcap.arena.votes import Vote


@dataclass(frozen=True)
class VoterStats:
    voter: str
    votes: int  # model votes (gold excluded)
    gold_votes: int
    gold_correct: int
    excluded: bool

    @property
    def agreement(self) -> float | None:
        return self.gold_correct / self.gold_votes if self.gold_votes else None

    def to_dict(self) -> dict:
        return {"voter": self.voter, "votes": self.votes, "gold_votes": self.gold_votes,
                "gold_correct": self.gold_correct, "agreement": self.agreement, "excluded": self.excluded}


def voter_stats(votes: Iterable[Vote], min_agreement: float | None = None, min_gold_votes: int = 1) -> list[VoterStats]:
    """Per voter: model votes, gold votes, gold agreement, and whether the voter is excluded.

    A voter is excluded when ``min_agreement`` is given, they answered at least
    ``min_gold_votes`` gold pairs, and their agreement is below ``min_agreement``. Voters with
    fewer gold answers are kept (there is not enough evidence against them), and shown as such.
    """
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise ValueError(f"min_agreement must be in [0, 1], got {min_agreement}")
    if min_gold_votes < 1:
        raise ValueError(f"min_gold_votes must be >= 1, got {min_gold_votes}")
    counts: dict[str, list[int]] = {}
    for vote in votes:
        c = counts.setdefault(vote.voter, [0, 0, 0])
        if vote.kind == "gold":
            c[1] += 1
            c[2] += vote.gold_correct()
        else:
            c[0] += 1
    out = []
    for voter, (n, gold, correct) in counts.items():
        excluded = (min_agreement is not None and gold >= min_gold_votes and correct / gold < min_agreement)
        out.append(VoterStats(voter, n, gold, correct, excluded))
    return sorted(out, key=lambda s: (s.agreement is None, -(s.agreement or 0.0), -s.votes, s.voter))


def ranked_votes(votes: Iterable[Vote], stats: Iterable[VoterStats]) -> list[Vote]:
    """The model votes (no gold) of voters not excluded, in their original order."""
    excluded = {s.voter for s in stats if s.excluded}
    return [v for v in votes if v.kind == "model" and v.voter not in excluded]
