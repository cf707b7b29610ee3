"""One vote as the ranking code sees it, independent of where it was stored.

A voter sees a video and two captions side by side and answers ``left`` (the left caption is
better), ``right``, ``tie`` (equally good) or ``bad`` (both are bad). Gold votes are on a pair
whose better caption is known (``GOLD_BETTER`` vs ``GOLD_WORSE``) and only measure the voter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ANSWERS = ("left", "right", "tie", "bad")
GOLD_BETTER = "gold:better"
GOLD_WORSE = "gold:worse"
KINDS = ("model", "gold")


@dataclass(frozen=True)
class Vote:
    voter: str  # anonymous token
    time: float  # unix seconds, server clock
    video: str  # item id
    kind: str  # "model" or "gold"
    model_left: str
    model_right: str
    caption_left: str
    caption_right: str
    answer: str  # one of ANSWERS

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise ValueError(f"vote answer must be one of {ANSWERS}, got {self.answer!r}")
        if self.kind not in KINDS:
            raise ValueError(f"vote kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def decisive(self) -> bool:
        return self.answer in ("left", "right")

    @property
    def result_left(self) -> float:
        """The left model's score: 1 win, 0 loss, 0.5 for a tie or "both bad" (LMArena counts both as ties)."""
        return {"left": 1.0, "right": 0.0}.get(self.answer, 0.5)

    @property
    def winner(self) -> str | None:
        return {"left": self.model_left, "right": self.model_right}.get(self.answer)

    @property
    def loser(self) -> str | None:
        return {"left": self.model_right, "right": self.model_left}.get(self.answer)

    def gold_correct(self) -> bool:
        """For a gold vote: did the voter pick the known-better caption? (tie / both bad: no)."""
        return self.winner == GOLD_BETTER

    def to_dict(self) -> dict:
        return asdict(self)


def words(text: str) -> int:
    """Caption length in whitespace-separated words (the length covariate of style control)."""
    return len(text.split())
