"""Per-event-kind recall: hand-made scripts and captions, counted by hand."""

import pytest

from avcap.synth.language import caption_from_script
from avcap.synth.recall import (
    GROUPS,
    KindRecall,
    attribute_chance,
    event_outcomes,
    pooled_recall,
    recall_dict,
)
from avcap.synth.sampler import sample_script
from avcap.synth.symbolic import judge_caption
from avcap.synth.world import Event, Script, WorldConfig

from .test_symbolic import hand_script


def script(*events: Event) -> Script:
    return Script(seed=(0,), fps=12, n_frames=96, size=128, speech=None, objects=(), events=events)


# Nine events, one of each visual group and four sound kinds; the hit and its bang share frame 42
# (test_symbolic's hand-counted script).
NINE = hand_script()
# The same pictures told right, every sound wrong or absent: the tone's pitch wrong, no bang, one beep
# instead of two, and a noise burst that did not happen.
DEAF = ("A red circle appears on the left. At the same time, a low tone plays. Then, the red circle moves right. "
        "Then, the word GO appears on the screen. Then, the red circle hits the blue square. Then, the red circle "
        "turns green. Then, a beep sounds. Then, a burst of noise plays. Finally, the green circle disappears.")


def test_outcomes_follow_the_script_and_the_judge():
    assert event_outcomes(NINE, caption_from_script(NINE)) == [
        ("shape", "correct"), ("tone", "correct"), ("motion", "correct"), ("text", "correct"),
        ("collision", "correct"), ("bang", "correct"), ("colour", "correct"), ("beep", "correct"),
        ("shape", "correct")]
    assert event_outcomes(NINE, DEAF) == [
        ("shape", "correct"), ("tone", "incorrect"), ("motion", "correct"), ("text", "correct"),
        ("collision", "correct"), ("bang", "missing"), ("colour", "correct"), ("beep", "incorrect"),
        ("shape", "correct")]
    # Miss there = missing here; incorrect there = incorrect here (one judge, one matching).
    j = judge_caption(NINE, DEAF)
    assert (len(j.missing), len(j.incorrect), len(j.hallucinated)) == (1, 2, 1)
    assert event_outcomes({"id": "x", "script": NINE.to_dict()}, DEAF) == event_outcomes(NINE, DEAF)


def test_identical_events_are_told_apart_by_index():
    # Two bangs: the caption tells one; which one is matched is the judge's choice, but exactly one is.
    two = script(Event("bang", 6, {}), Event("tone", 20, {"pitch": "low"}), Event("bang", 40, {}))
    outcomes = [o for _, o in event_outcomes(two, "A low tone plays. Then, a bang sounds.")]
    assert outcomes == ["missing", "correct", "correct"]
    assert [o for _, o in event_outcomes(two, "")] == ["missing"] * 3


def test_pooled_recall_counts_by_hand():
    pooled = pooled_recall([(NINE, caption_from_script(NINE)), (NINE, DEAF)])
    assert set(pooled) == set(GROUPS)
    assert pooled["shape"] == KindRecall(4, 4, 0)
    assert pooled["tone"] == KindRecall(2, 1, 1) and pooled["tone"].recall == 0.5
    assert pooled["bang"] == KindRecall(2, 1, 0)
    assert pooled["beep"] == KindRecall(2, 1, 1)
    assert pooled["noise"] == KindRecall() and pooled["noise"].recall is None  # a hallucinated noise is no event
    assert pooled["speech"].n == 0
    assert pooled["visual"] == KindRecall(12, 12, 0) and pooled["visual"].recall == 1.0
    assert pooled["sound"] == KindRecall(6, 3, 2) and pooled["sound"].recall == 0.5
    d = recall_dict(pooled)
    assert list(d) == list(GROUPS) and d["sound"] == {"n": 6, "correct": 3, "incorrect": 2, "recall": 0.5}


def test_pooled_recall_of_ground_truth_is_one_for_every_kind_present():
    scripts = [sample_script((5, i), WorldConfig(speech=True)) for i in range(60)]
    pooled = pooled_recall((s, caption_from_script(s)) for s in scripts)
    assert all(p.recall == 1.0 for p in pooled.values() if p.n)
    assert pooled["sound"].n == sum(pooled[g].n for g in ("tone", "beep", "noise", "bang", "speech")) > 0
    assert all(pooled[g].n > 0 for g in GROUPS)  # 60 speech videos hold every kind
    silent = pooled_recall((s, "") for s in scripts)
    assert all(p.correct == 0 and p.recall == 0.0 for p in silent.values())


def test_attribute_chance_is_the_most_frequent_value_share():
    scripts = [script(Event("tone", 0, {"pitch": "low"}), Event("beep", 10, {"count": 2}),
                      Event("noise", 20, {})),
               script(Event("tone", 0, {"pitch": "low"}), Event("tone", 10, {"pitch": "high"}),
                      Event("beep", 30, {"count": 3}), Event("say", 40, {"word": "go"}))]
    chance = attribute_chance(scripts)
    assert chance["tone"] == pytest.approx(2 / 3) and chance["beep"] == 0.5
    assert chance["noise"] == 1.0 and chance["bang"] is None and chance["speech"] == 1.0
    assert chance["sound"] == pytest.approx((2 + 1 + 1 + 1) / 7)  # best guesses / sound events
    assert attribute_chance([]) == {g: None for g in ("tone", "beep", "noise", "bang", "speech", "sound")}


def test_outcomes_agree_with_the_judgment_on_other_videos_captions():
    scripts = [sample_script((6, i), WorldConfig(speech=True)) for i in range(40)]
    for s, other in zip(scripts, scripts[1:] + scripts[:1]):
        for caption in (caption_from_script(other), caption_from_script(s) + " " + caption_from_script(other)):
            j = judge_caption(s, caption)
            outcomes = [o for _, o in event_outcomes(s, caption)]
            assert outcomes.count("missing") == len(j.missing) and outcomes.count("incorrect") == len(j.incorrect)
            assert sorted(j.incorrect) == sorted(sent for sent, o in zip(
                [judge_caption(s, "").missing[k] for k in range(len(outcomes))], outcomes) if o == "incorrect")
