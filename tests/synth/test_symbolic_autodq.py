"""Exact AutoDQ counts in the synthetic world (extraction = the caption's clauses, entailment = correct match)."""

import pytest

from avcap.metrics.autodq import autodq_item
from avcap.synth.symbolic import autodq_counts

EVENTS = ["A low tone plays.", "A red square appears on the left.", "The red square moves right.",
          "The word RUN appears on the screen."]


@pytest.mark.parametrize("caption, counts", [
    (" ".join(EVENTS), (4, 4, 4, 4)),
    ("", (4, 0, 0, 0)),  # nothing told: recall 0, precision 1 (no events to be wrong)
    # one correct, one with a wrong attribute (blue), one invented (a bang), one unreadable
    ("A low tone plays. A blue square appears on the left. A bang sounds. Blah blah.", (4, 1, 4, 1)),
    # all four told, but the move before the appearance: only three stay in time order
    ("A low tone plays. The red square moves right. A red square appears on the left. "
     "The word RUN appears on the screen.", (4, 3, 4, 3)),
    # a repeat describes a second event that did not happen
    ("A low tone plays. A low tone plays.", (4, 1, 2, 1)),
])
def test_hand_worked_captions(caption, counts):
    assert autodq_counts(EVENTS, caption) == counts


def test_scores_follow_autodq_item():
    p, r = autodq_item(*autodq_counts(EVENTS, "A low tone plays. A blue square appears on the left."))
    assert (p, r) == (0.5, 0.25)
