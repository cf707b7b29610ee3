"""Symbolic judge: exact missing / incorrect / hallucinated events, video-SALMONN 2 semantics."""

import re

import numpy as np
import pytest

from avcap.errors import DataError, JudgeError
from avcap.synth.language import atomic_events, caption_from_script, event_sentence, paraphrase_caption
from avcap.synth.sampler import sample_script
from avcap.synth.symbolic import SymbolicJudgment, judge_caption, judge_rows, mismatches
from avcap.synth.world import Event, Script, WorldConfig

RED_CIRCLE = {"object": 0, "colour": "red", "shape": "circle"}


def hand_script() -> Script:
    """Nine events; the appear and the tone share frame 6, the hit and its bang frame 42."""
    events = (
        Event("appear", 6, {**RED_CIRCLE, "place": "left"}),
        Event("tone", 6, {"pitch": "high", "duration_s": 0.5}),
        Event("move", 18, {**RED_CIRCLE, "direction": "right"}),
        Event("text", 30, {"word": "go", "end_frame": 50}),
        Event("hit", 42, {**RED_CIRCLE, "target": 1, "target_colour": "blue", "target_shape": "square"}),
        Event("bang", 42, {"duration_s": 0.25}),
        Event("turn", 54, {**RED_CIRCLE, "new_colour": "green"}),
        Event("beep", 66, {"count": 2, "duration_s": 0.3}),
        Event("vanish", 78, {"object": 0, "colour": "green", "shape": "circle"}),
    )
    return Script(seed=(0,), fps=12, n_frames=96, size=128, speech=None, objects=(), events=events)


S = hand_script()
GT = atomic_events(S)
CAPTION = caption_from_script(S)


def sentences(caption: str) -> list[str]:
    return [s.strip() + "." for s in caption.split(".") if s.strip()]


def counts(j: SymbolicJudgment) -> tuple[int, int, int]:
    return len(j.missing), len(j.incorrect), len(j.hallucinated)


def test_ground_truth_caption_is_perfect_for_many_seeds():
    for cfg in (WorldConfig(), WorldConfig(speech=True, max_duration_s=12, fps=8)):
        for i in range(250):
            s = sample_script((7, i), cfg)
            j = judge_caption(s, caption_from_script(s))
            assert counts(j) == (0, 0, 0) and j.n_events == len(s.events), caption_from_script(s)


def test_paraphrases_are_perfect_and_inputs_are_interchangeable():
    for i in range(150):
        s = sample_script((8, i), WorldConfig(speech=True))
        para = paraphrase_caption(s, np.random.default_rng(i))
        assert counts(judge_caption(s, para)) == (0, 0, 0), para
        assert judge_caption(s.to_dict(), para) == judge_caption({"id": "x", "script": s.to_dict()}, para)


def test_hand_caption_reads_as_expected():
    # The sequential connective (Then / Next / After that) is drawn from the script's seed.
    pattern = ("A red circle appears on the left. At the same time, a high tone plays. "
               "{C}, the red circle moves right. {C}, the word GO appears on the screen. "
               "{C}, the red circle hits the blue square. At the same time, a bang sounds. "
               "{C}, the red circle turns green. {C}, two beeps sound. "
               "Finally, the green circle disappears.")
    assert re.fullmatch(re.escape(pattern).replace(re.escape("{C}"), "(Then|Next|After that)"), CAPTION)
    assert judge_caption(S, CAPTION) == SymbolicJudgment([], [], [], 9)


@pytest.mark.parametrize("k", range(9))
def test_dropping_a_sentence_is_one_missing_event(k):
    told = sentences(CAPTION)
    del told[k]
    j = judge_caption(S, " ".join(told))
    assert (j.missing, j.incorrect, j.hallucinated) == ([GT[k]], [], [])


@pytest.mark.parametrize("old, new, event", [
    ("A red circle appears", "A yellow circle appears", 0),  # colour
    ("a high tone", "a low tone", 1),  # pitch
    ("moves right", "moves up", 2),  # direction
    ("the word GO", "the word STOP", 3),  # on-screen word
    ("hits the blue square", "hits the blue triangle", 4),  # target's shape
    ("turns green", "turns purple", 6),  # new colour
    ("two beeps sound", "three beeps sound", 7),  # count
    ("the green circle disappears", "the red circle disappears", 8),  # name before the turn
    ("the red circle hits the blue square", "the blue square hits the red circle", 4),  # agent swapped
    ("A red circle appears on the left", "A red circle appears", 0),  # place left out
])
def test_one_wrong_attribute_is_one_incorrect_event(old, new, event):
    assert old in CAPTION
    j = judge_caption(S, CAPTION.replace(old, new, 1))
    assert (j.missing, j.incorrect, j.hallucinated) == ([], [GT[event]], [])
    assert j.details[0]["reason"] == "attribute"


def test_two_wrong_attributes_are_a_miss_and_a_hallucination():
    j = judge_caption(S, CAPTION.replace("A red circle appears on the left", "A yellow square appears on the left"))
    assert (j.missing, j.incorrect, j.hallucinated) == ([GT[0]], [], ["A yellow square appears on the left"])


@pytest.mark.parametrize("fake", ["A purple diamond appears at the top.", "A burst of noise plays.",
                                  "A voice says hello.", "A high tone plays."])
def test_an_invented_event_is_one_hallucination(fake):
    told = sentences(CAPTION)
    told.insert(4, fake)
    j = judge_caption(S, " ".join(told))
    assert counts(j) == (0, 0, 1) and j.hallucinated == [fake.rstrip(".")]


def test_repeating_an_event_is_a_hallucination():
    told = sentences(CAPTION)
    j = judge_caption(S, " ".join(told + [told[2]]))
    assert counts(j) == (0, 0, 1)


def test_telling_events_out_of_order_makes_them_incorrect():
    told = sentences(CAPTION)
    told[2], told[3] = told[3], told[2]  # move (t=1.5 s) after text (t=2.5 s)
    j = judge_caption(S, " ".join(told))
    assert counts(j) == (0, 1, 0) and j.details[0]["reason"] == "order"
    assert j.incorrect[0] in (GT[2], GT[3])
    told = sentences(CAPTION)
    j = judge_caption(S, " ".join(told[1:] + told[:1]))  # first event told last
    assert (j.missing, j.incorrect, j.hallucinated) == ([], [GT[0]], [])
    j = judge_caption(S, " ".join(reversed(told)))  # all reversed: only same-frame pairs stay consistent
    assert counts(j) == (0, 7, 0)


def test_same_frame_events_may_be_told_in_either_order():
    told = sentences(CAPTION)
    told[0], told[1] = told[1], told[0]
    told[4], told[5] = told[5], told[4]
    assert counts(judge_caption(S, " ".join(told))) == (0, 0, 0)
    merged = CAPTION.replace("the blue square. At the same time, a bang sounds.", "the blue square with a bang.")
    assert counts(judge_caption(S, merged)) == (0, 0, 0)


@pytest.mark.parametrize("garbage, n_hall", [
    ("lorem ipsum dolor sit amet", 1),
    ("zzz. qqq! The sky is blue?", 3),
    ("A red circle appears on the left and it was great.", 1),
])
def test_unreadable_text_is_hallucinated(garbage, n_hall):
    j = judge_caption(S, garbage)
    readable = 1 if "appears on the left" in garbage else 0
    assert counts(j) == (9 - readable, 0, n_hall)


def test_empty_caption_misses_everything():
    for caption in ("", "   ", "\n"):
        j = judge_caption(S, caption)
        assert (j.missing, j.incorrect, j.hallucinated, j.n_events) == (GT, [], [], 9)


def test_random_drops_and_edits_are_counted_exactly():
    rng = np.random.default_rng(0)
    for i in range(120):
        s = sample_script((9, i), WorldConfig(speech=True))
        told = [event_sentence(e) for e in s.events]
        n_drop = int(rng.integers(0, min(3, len(told))))
        dropped = set(rng.choice(len(told), size=n_drop, replace=False).tolist())
        # Recolour one kept object event to a colour the video never shows: exactly one incorrect.
        unused = sorted({"red", "green", "blue", "yellow", "purple", "white"}
                        - {c for o in s.objects for _, c in o.colours})
        editable = [k for k, e in enumerate(s.events) if k not in dropped and "colour" in e.args]
        edited = None
        if unused and editable:
            edited = editable[int(rng.integers(len(editable)))]
            told[edited] = re.sub(r"\b" + s.events[edited].args["colour"] + r"\b", unused[0], told[edited], count=1)
        caption = " ".join(t for k, t in enumerate(told) if k not in dropped)
        j = judge_caption(s, caption)
        gt = atomic_events(s)
        assert sorted(j.missing) == sorted(gt[k] for k in dropped)
        assert j.incorrect == ([gt[edited]] if edited is not None else [])
        assert j.hallucinated == []


def test_event_list_input_uses_list_order():
    assert counts(judge_caption(GT, CAPTION)) == (0, 0, 0)
    told = sentences(CAPTION)
    told[0], told[1] = told[1], told[0]
    # Without times, the list order is the only order known: the swap now counts.
    assert counts(judge_caption(GT, " ".join(told))) == (0, 1, 0)
    assert judge_caption({"id": "r", "events": GT}, CAPTION) == judge_caption(GT, CAPTION)
    with pytest.raises(DataError, match="event 1"):
        judge_caption(["A red circle appears.", "nonsense here"], "x")


def test_bad_inputs_raise_avcap_errors():
    with pytest.raises(JudgeError, match="caption must be a string"):
        judge_caption(S, None)
    with pytest.raises(DataError):
        judge_caption({"objects": []}, "A bang sounds.")
    with pytest.raises(DataError):
        judge_caption(12, "A bang sounds.")


def test_judge_rows_and_dict_form():
    rows = [{"id": "a", "script": S.to_dict(), "caption": CAPTION},
            {"id": "b", "events": GT, "caption": ""}]
    a, b = judge_rows(rows)
    assert a.total_errors == 0 and counts(b) == (9, 0, 0)
    d = b.to_dict()
    assert d["n_missing"] == 9 and d["n_events"] == 9 and d["missing"] == GT
    with pytest.raises(JudgeError, match="row c"):
        judge_rows([{"id": "c", "caption": "x"}])


def test_mismatches():
    assert mismatches(("tone", ("low",)), ("beep", (1,))) is None
    assert mismatches(("tone", ("low",)), ("tone", ("low",))) == 0
    assert mismatches(("hit", ("blue", "square", "red", "circle")), ("hit", ("red", "circle", "blue", "square"))) == 1
    assert mismatches(("appear", ("red", "circle", None)), ("appear", ("red", "circle", "left"))) == 1


def test_hallucinations_are_listed_in_caption_order():
    caption = "zzz. " + CAPTION.replace("Next, two beeps sound.", "Next, two beeps sound. A hiss is heard. qqq.")
    j = judge_caption(S, caption)
    assert (j.missing, j.incorrect, j.hallucinated) == ([], [], ["zzz", "A hiss is heard", "qqq"])
