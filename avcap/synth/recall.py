"""Per-event-kind recall of captions of the synthetic world: which events a captioner tells right.

A pooled Total error hides *what* a captioner gets right; the question "does the model listen?"
needs it split by kind. For each ground-truth event of a script, :func:`event_outcomes` says
whether a caption told it ``correct`` (same kind and attributes, in time order among the correct
ones), ``incorrect`` (recognisable but one attribute wrong, or out of order) or ``missing`` —
exactly the matching of :func:`avcap.synth.symbolic.judge_caption`, so recall here and Miss there
never disagree. :func:`pooled_recall` pools over many captions:

* recall of a kind = events of that kind told correctly / events of that kind;
* kinds are grouped as a reader thinks of them: visual ``shape`` (appear, disappear), ``colour``
  (turn), ``motion`` (move), ``collision`` (hit), ``text``; each sound kind on its own (``tone``,
  ``beep``, ``noise``, ``bang``, ``speech``); and the pools ``visual`` and ``sound``.

Chance for muted audio. What a captioner recalls of the sounds when it cannot hear them is its
*muted recall*: the same videos captioned with the sound replaced by silence, so every correct
sound event comes from the picture and the text prior alone. That measured number is the chance
line the issue means ("sound recall falls to chance when muted"): a model that listens is well
above it with sound, a deaf one is at it both ways. It is not zero: a bang always comes with a
visible collision, so a deaf captioner can recall bangs from the frames.

:func:`attribute_chance` adds an analytic line for the attribute a sound carries: for a
captioner that somehow knows that a sound of a kind happens and when, but not what it sounds
like, the best constant guess (the most frequent pitch of a tone, count of beeps, spoken word)
is right for this share of the events. Noise and bang carry no attribute (1.0): for them only
hearing *that* they happen matters. A deaf captioner cannot exceed it on tone, beep or speech
(it does not even know when they happen), so a muted recall near or below it, against a much
higher recall with sound, shows the attribute is heard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from avcap.synth.symbolic import judge_caption
from avcap.synth.world import Script, script_from

# Script event kind -> the group it is reported under.
KIND_GROUP: dict[str, str] = {
    "appear": "shape", "vanish": "shape", "turn": "colour", "move": "motion", "hit": "collision",
    "text": "text", "tone": "tone", "beep": "beep", "noise": "noise", "bang": "bang", "say": "speech",
}
VISUAL_GROUPS = ("shape", "colour", "motion", "collision", "text")
SOUND_GROUPS = ("tone", "beep", "noise", "bang", "speech")
GROUPS = VISUAL_GROUPS + SOUND_GROUPS + ("visual", "sound")
# The attribute a sound event carries (what must be heard, not only that it sounded).
SOUND_ATTRIBUTE = {"tone": "pitch", "beep": "count", "say": "word"}


@dataclass(frozen=True)
class KindRecall:
    """Events of one group: how many, told correctly, told wrongly (the rest were missed)."""

    n: int = 0
    correct: int = 0
    incorrect: int = 0

    @property
    def recall(self) -> float | None:
        return self.correct / self.n if self.n else None

    def __add__(self, other: KindRecall) -> KindRecall:
        return KindRecall(self.n + other.n, self.correct + other.correct, self.incorrect + other.incorrect)

    def to_dict(self) -> dict:
        return {"n": self.n, "correct": self.correct, "incorrect": self.incorrect, "recall": self.recall}


def event_outcomes(script_or_row: Script | Mapping, caption: str) -> list[tuple[str, str]]:
    """``(group, outcome)`` for each event of the script, in script order.

    ``outcome`` is ``"correct"``, ``"incorrect"`` or ``"missing"`` as the symbolic judge matched it.

    >>> row = {"events": [], "objects": [], "seed": [0], "fps": 12, "n_frames": 48, "size": 128,
    ...        "speech": None}
    >>> row["events"] = [{"kind": "tone", "frame": 0, "pitch": "low"}, {"kind": "bang", "frame": 5}]
    >>> event_outcomes(row, "A high tone plays. Then, a bang sounds.")
    [('tone', 'incorrect'), ('bang', 'correct')]
    """
    script = script_from(script_or_row)
    judgment = judge_caption(script, caption)
    return [(KIND_GROUP[e.kind], outcome) for e, outcome in zip(script.events, judgment.outcomes)]


def pooled_recall(pairs: Iterable[tuple[Script | Mapping, str]]) -> dict[str, KindRecall]:
    """Recall per group pooled over ``(script or row, caption)`` pairs; every group of GROUPS is present."""
    out = {g: KindRecall() for g in GROUPS}
    for script, caption in pairs:
        for group, outcome in event_outcomes(script, caption):
            one = KindRecall(1, outcome == "correct", outcome == "incorrect")
            out[group] += one
            out["sound" if group in SOUND_GROUPS else "visual"] += one
    return out


def recall_dict(pooled: Mapping[str, KindRecall]) -> dict[str, dict]:
    """JSON form of :func:`pooled_recall` (kinds in GROUPS order)."""
    return {g: pooled[g].to_dict() for g in GROUPS if g in pooled}


def attribute_chance(scripts: Iterable[Script | Mapping]) -> dict[str, float | None]:
    """Per sound group (and pooled ``sound``): the share of its events whose attribute equals the
    group's most frequent value in ``scripts`` (1.0 for noise and bang; None without events)."""
    values: dict[str, Counter] = {g: Counter() for g in SOUND_GROUPS}
    for s in scripts:
        for e in script_from(s).events:
            group = KIND_GROUP[e.kind]
            if group in values:
                attribute = SOUND_ATTRIBUTE.get(e.kind)
                values[group][str(e.args.get(attribute)) if attribute else ""] += 1
    out: dict[str, float | None] = {}
    hits = total = 0
    for group, counts in values.items():
        n = sum(counts.values())
        best = max(counts.values(), default=0)
        out[group] = best / n if n else None
        hits, total = hits + best, total + n
    out["sound"] = hits / total if total else None
    return out


__all__ = ["GROUPS", "KIND_GROUP", "SOUND_GROUPS", "VISUAL_GROUPS", "KindRecall", "attribute_chance",
           "event_outcomes", "pooled_recall", "recall_dict"]
