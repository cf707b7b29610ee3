"""The symbolic judge: exact missing / incorrect / hallucinated events of a caption of the synthetic world.

Same semantics as the video-SALMONN 2 judge (paper §3.3.1 and App. F), computed instead of asked:

* **missing** — ground-truth events the caption does not tell;
* **incorrect** — ground-truth events the caption tells wrongly but recognisably: same kind of
  event with at most one attribute wrong (colour, shape, place, direction, target, pitch, count,
  word), a collision told with subject and target swapped, or an event told correctly but in
  the wrong order relative to the caption's other correct events;
* **hallucinated** — events in the caption that match no ground-truth event, including a repeat
  of an event already told (it describes a second event that did not happen), and every
  sentence (or clause of a compound sentence) the parser cannot read.

Why an unreadable sentence counts as one hallucinated event: the LLM judge would find content
in it that the ground truth does not support, and a captioner must not be able to lower its
error by writing off-grammar text instead of committing to events — free garbage would be
rewarded by MrDPO's pair selection. Captions from the world's own grammar are never unreadable.

Matching. Each caption clause explains at most one ground-truth event and vice versa. First,
the most clauses that equal an event *and* keep the events' time order are matched (a longest
common subsequence in which events on the same frame — a collision and its bang — may be told
in either order); they are correct. Then the most remaining clause/event pairs that are equal
(but told out of order) or differ in one attribute are matched (maximum bipartite matching);
those events are incorrect. Correct matches come first because each saves two errors (a miss
and a hallucination), while giving one up frees one clause and one event, which can save at
most two through incorrect pairs. The paper's rates follow as missing / n_events and
(incorrect + hallucinated) / n_events.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from avcap.errors import DataError, JudgeError
from avcap.synth.language import event_sentence
from avcap.synth.parse import FIELDS, Clause, Frame, event_frame, parse_caption
from avcap.synth.world import Script, script_from


@dataclass(frozen=True)
class SymbolicJudgment:
    """Ground-truth event sentences missed / told wrongly, caption clauses with no counterpart."""

    missing: list[str]
    incorrect: list[str]
    hallucinated: list[str]
    n_events: int
    # One entry per incorrect event: {"event", "caption", "reason": "attribute" | "order"}.
    details: list[dict] = field(default_factory=list, compare=False)
    # Per ground-truth event, in script order: "correct" | "incorrect" | "missing". Sentences alone
    # cannot say which of two identical events ("A bang sounds." twice) was told; per-kind recall
    # (avcap.synth.recall) needs the index. Not part of to_dict or equality: the judgment is unchanged.
    outcomes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def total_errors(self) -> int:
        return len(self.missing) + len(self.incorrect) + len(self.hallucinated)

    def to_dict(self) -> dict:
        return {"missing": list(self.missing), "incorrect": list(self.incorrect),
                "hallucinated": list(self.hallucinated), "n_events": self.n_events,
                "n_missing": len(self.missing), "n_incorrect": len(self.incorrect),
                "n_hallucinated": len(self.hallucinated), "details": list(self.details)}


@dataclass(frozen=True)
class _Truth:
    sentence: str
    frame: Frame
    group: int  # time rank: equal for events on the same frame


def _truth(script_or_events: Script | Mapping | Sequence[str]) -> list[_Truth]:
    if isinstance(script_or_events, Mapping) and "script" not in script_or_events and "objects" not in \
            script_or_events and isinstance(script_or_events.get("events"), list):
        script_or_events = script_or_events["events"]  # a row of another dataset: its event sentences
    if isinstance(script_or_events, (Script, Mapping)):
        script = script_from(script_or_events)
        frames_sorted = sorted({e.frame for e in script.events})
        rank = {f: i for i, f in enumerate(frames_sorted)}
        return [_Truth(event_sentence(e), event_frame(e), rank[e.frame]) for e in script.events]
    if isinstance(script_or_events, Sequence) and not isinstance(script_or_events, str):
        # Event sentences alone carry no times: list order is taken as strict time order.
        truth = []
        for i, sentence in enumerate(script_or_events):
            clauses = parse_caption(sentence) if isinstance(sentence, str) else []
            if len(clauses) != 1 or clauses[0].frame is None:
                raise DataError(f"ground-truth event {i} ({sentence!r}): not one event of the synthetic grammar")
            truth.append(_Truth(sentence, clauses[0].frame, i))
        return truth
    raise DataError(f"symbolic judge: expected a script, a script dict or a list of event sentences, "
                    f"got {type(script_or_events).__name__}")


def mismatches(told: Frame, truth: Frame) -> int | None:
    """Attributes told wrongly (None counts as wrong); None if not the same kind of event.

    A collision with subject and target swapped counts as one wrong attribute (the agent).
    """
    if told[0] != truth[0]:
        return None
    wrong = sum(a != b for a, b in zip(told[1], truth[1]))
    if told[0] == "hit" and wrong:
        swapped = (told[1][2], told[1][3], told[1][0], told[1][1])
        if swapped == truth[1]:
            return 1
    return wrong


def _ordered_exact(told: list[Frame], gt: list[_Truth]) -> dict[int, int]:
    """Most clause -> event equalities whose events are told in time order (ties within a frame free).

    DP over (clauses used, time groups used); a group may absorb any clauses of a caption span,
    each taking an equal, untaken event of the group (greedy is optimal for equality).
    """
    ranks = sorted({t.group for t in gt})
    groups = [[k for k, t in enumerate(gt) if t.group == r] for r in ranks]
    n, n_groups = len(told), len(groups)
    positions: dict[Frame, list[int]] = {}
    for j, frame in enumerate(told):
        positions.setdefault(frame, []).append(j)

    def _next_at(where: list[int], j: int) -> int:
        k = bisect.bisect_left(where, j)
        return where[k] if k < len(where) else n

    best = [[-1] * (n_groups + 1) for _ in range(n + 1)]
    back: dict[tuple[int, int], tuple[int, int, dict[int, int]]] = {}
    best[0][0] = 0
    for i in range(n + 1):
        for g in range(n_groups + 1):
            value = best[i][g]
            if value < 0:
                continue
            steps = []
            if i < n:
                steps.append((i + 1, g, {}))
            if g < n_groups:
                steps.append((i, g + 1, {}))
                free, pairs, j = list(groups[g]), {}, i
                while free:  # the next caption clause (from j on) equal to an untaken event of the group
                    found = [(_next_at(positions.get(gt[k].frame, []), j), k) for k in free]
                    j, k = min(found)
                    if j >= n:
                        break
                    free.remove(k)
                    pairs = {**pairs, j: k}
                    steps.append((j + 1, g + 1, pairs))
                    j += 1
            for ni, ng, new_pairs in steps:
                if value + len(new_pairs) > best[ni][ng]:
                    best[ni][ng] = value + len(new_pairs)
                    back[(ni, ng)] = (i, g, new_pairs)
    matched: dict[int, int] = {}
    state = (n, n_groups)
    while state != (0, 0):
        i, g, pairs = back[state]
        matched.update(pairs)
        state = (i, g)
    return matched


def _near_matching(clauses: list[int], truths: list[int], told: list[Frame], gt: list[_Truth]) -> dict[int, int]:
    """Most clause -> event pairs equal or one attribute apart (Kuhn's augmenting paths)."""
    adjacency = {}
    for c in clauses:
        options = [(m, abs(c / max(len(told), 1) - t / max(len(gt), 1)), t) for t in truths
                   if (m := mismatches(told[c], gt[t].frame)) is not None and m <= 1]
        adjacency[c] = [t for _, _, t in sorted(options)]  # fewest wrong, then nearest position
    owner: dict[int, int] = {}  # truth -> clause

    def augment(c: int, seen: set[int]) -> bool:
        for t in adjacency[c]:
            if t not in seen:
                seen.add(t)
                if t not in owner or augment(owner[t], seen):
                    owner[t] = c
                    return True
        return False

    for c in clauses:
        augment(c, set())
    return {c: t for t, c in owner.items()}


def judge_caption(script_or_events: Script | Mapping | Sequence[str], caption: str) -> SymbolicJudgment:
    """Judge ``caption`` against a script (a Script, its dict, or a dataset row holding ``script``).

    A list of ground-truth event sentences in the world's grammar (or a row holding only such
    ``events``) also works; their order is then taken as strict time order. Pure and deterministic.
    Raises DataError for ground truth that is not of the synthetic world, JudgeError for a
    caption that is not a string.
    """
    if not isinstance(caption, str):
        raise JudgeError(f"symbolic judge: caption must be a string, got {type(caption).__name__}")
    gt = _truth(script_or_events)
    clauses: list[Clause] = parse_caption(caption)
    readable = [i for i, c in enumerate(clauses) if c.frame is not None]  # clause index of each told event
    told = [clauses[i].frame for i in readable]

    correct = _ordered_exact(told, gt)
    rest = [c for c in range(len(told)) if c not in correct]
    taken = set(correct.values())
    wrong = _near_matching(rest, [t for t in range(len(gt)) if t not in taken], told, gt)
    by_truth = {t: c for c, t in wrong.items()}

    matched = taken | set(wrong.values())
    unmatched = {readable[c] for c in rest if c not in wrong}
    hallucinated = [c.text for i, c in enumerate(clauses) if c.frame is None or i in unmatched]
    return SymbolicJudgment(
        missing=[gt[t].sentence for t in range(len(gt)) if t not in matched],
        incorrect=[gt[t].sentence for t in sorted(by_truth)],
        hallucinated=hallucinated,
        n_events=len(gt),
        details=[{"event": gt[t].sentence, "caption": clauses[readable[c]].text,
                  "reason": "order" if told[c] == gt[t].frame else "attribute"}
                 for t, c in sorted(by_truth.items())],
        outcomes=tuple("correct" if t in taken else "incorrect" if t in by_truth else "missing"
                       for t in range(len(gt))),
    )


def autodq_counts(script_or_events: Script | Mapping | Sequence[str], caption: str) -> tuple[int, int, int, int]:
    """AutoDQ's four counts for a caption of the synthetic world, exactly (Tarsier2 footnote 3).

    ``(n_ref_events, n_ref_entailed, n_pred_events, n_pred_entailed)`` for
    :func:`avcap.metrics.autodq.autodq_item`. Extraction: the reference events are the script's;
    the caption's events are its clauses (every clause the parser splits off, unreadable ones
    included: an LLM extractor would list some event for them, and none is entailed). Entailment:
    an event is entailed by the other description when :func:`judge_caption` matches it as told
    *correctly* -- the same kind and attributes, in time order among the correct ones. An event
    told with a wrong attribute or out of order contradicts the other description, which AutoDQ
    does not count; so both numerators are the number of correct matches.

    >>> autodq_counts(["A low tone plays.", "A red square appears on the left."], "A low tone plays. Blah.")
    (2, 1, 2, 1)
    """
    judgment = judge_caption(script_or_events, caption)
    correct = judgment.n_events - len(judgment.missing) - len(judgment.incorrect)
    # Each caption clause is correct, the match of one incorrect event, or hallucinated.
    n_pred = correct + len(judgment.incorrect) + len(judgment.hallucinated)
    return judgment.n_events, correct, n_pred, correct


def judge_rows(rows: Iterable[Mapping]) -> list[SymbolicJudgment]:
    """Judge many items: each row holds ``caption`` and ``script`` (or ``events`` sentences)."""
    out = []
    for i, row in enumerate(rows):
        where = row.get("id", i) if isinstance(row, Mapping) else i
        if not isinstance(row, Mapping) or "caption" not in row:
            raise JudgeError(f"symbolic judge: row {where}: needs a 'caption' and a 'script' or 'events'")
        truth = row.get("script") if row.get("script") is not None else row.get("events")
        if truth is None:
            raise JudgeError(f"symbolic judge: row {where}: has neither 'script' nor 'events'")
        out.append(judge_caption(truth, row["caption"]))
    return out


__all__ = ["FIELDS", "SymbolicJudgment", "autodq_counts", "judge_caption", "judge_rows", "mismatches"]
