import pytest

from avcap.judge import results as R
from avcap.judge.prompts import CHECKLIST_DIMENSIONS
from avcap.judge.types import AnswerError

EVENTS = ["A man opens the door.", "A dog barks twice.", "Rain falls on the roof.", "A woman says hello."]


def test_event_judgment_numbers_texts_and_fuzzy_matches():
    out = R.parse_event_judgment(
        {"missing": [1, "2. A dog barks twice.", "rain falls on the roof"], "incorrect": ["#4"], "hallucinated": ["A cat sleeps."]},
        EVENTS,
    )
    assert out.missing == (0, 1, 2) and out.incorrect == (3,) and out.hallucinated == ("A cat sleeps.",)
    assert out.n_events == 4 and out.notes == ()
    fuzzy = R.parse_event_judgment({"missing": ["A dog barked twice"], "incorrect": [], "hallucinated": []}, EVENTS)
    assert fuzzy.missing == (1,)


@pytest.mark.parametrize("missing", [[99, 100], [9], [0], ["A horse gallops."], [True], [1, 5]])
def test_event_judgment_naming_events_that_do_not_exist_is_rejected(missing):
    # Accepting [99, 100] would count no real event as missing and lower Miss%: the judge is re-asked.
    with pytest.raises(AnswerError, match="not in the list of 4"):
        R.parse_event_judgment({"missing": missing, "incorrect": [], "hallucinated": []}, EVENTS)
    with pytest.raises(AnswerError, match="not in the list of 4"):
        R.parse_event_judgment({"missing": [], "incorrect": missing, "hallucinated": []}, EVENTS)


def test_keypoint_hits_naming_keypoints_that_do_not_exist_are_rejected():
    with pytest.raises(AnswerError, match="keypoints not in the list of 2"):
        R.parse_keypoint_hits({"correct": [1, 3]}, ["a red ball", "a beep"])


def test_event_listed_as_missing_and_incorrect_counts_once_as_incorrect():
    out = R.parse_event_judgment({"missing": [1, 2, 2], "incorrect": [2, 3], "hallucinated": ["x", "x", ""]}, EVENTS)
    assert out.missing == (0,) and out.incorrect == (1, 2)
    # A hallucination stated twice counts twice (only the empty entry is dropped).
    assert out.hallucinated == ("x", "x")
    assert any("both missing and incorrect" in n for n in out.notes)
    assert len(out.missing) + len(out.incorrect) <= out.n_events


def test_event_judgment_alias_keys_are_accepted():
    out = R.parse_event_judgment({"Missing Events": [1], "incorrect_events": [], "hallucinations": []}, EVENTS)
    assert out.missing == (0,)


@pytest.mark.parametrize("value", [[1, 2], {"missing": [1]}, {"missing": 1, "incorrect": [], "hallucinated": []},
                                   {"missing": [], "incorrect": [], "hallucinated": [{"a": [1]}]}])
def test_event_judgment_bad_shapes_raise(value):
    with pytest.raises(AnswerError):
        R.parse_event_judgment(value, EVENTS)


def test_event_list_clipping_is_recorded():
    out = R.parse_event_list({"events": [f"e{i}" for i in range(14)] + [" "]}, max_events=10)
    assert len(out.events) == 10 and out.events[0] == "e0"
    assert any("clipped 14 events to the first 10" in n for n in out.notes)
    assert any("dropped 1 empty" in n for n in out.notes)
    assert R.parse_event_list(["a", "b"]).events == ("a", "b")  # a bare list is accepted


def test_entailments_forms():
    assert R.parse_entailments({"labels": [{"event": 2, "label": "Neutral"}, {"event": 1, "label": "entailed"}]}, 2).labels == (
        "entailment", "neutral")
    assert R.parse_entailments(["entailment", "contradiction."], 2).n_entailed == 1
    assert R.parse_entailments({"labels": {"1": "entailment"}}, 1).labels == ("entailment",)
    with pytest.raises(AnswerError, match="no label for events \\[2\\]"):
        R.parse_entailments({"labels": ["entailment"]}, 2)
    with pytest.raises(AnswerError, match="unknown entailment label"):
        R.parse_entailments({"labels": ["maybe"]}, 1)
    with pytest.raises(AnswerError):
        R.parse_entailments({"labels": [{"event": 5, "label": "neutral"}]}, 2)


def test_keypoints_dimensions_are_canonicalised():
    out = R.parse_keypoints({"keypoints": [{"dimension": "auditory", "text": "A bell rings."},
                                           {"dimension": "3. Spatio-temporal", "text": "The camera pans."},
                                           {"dimension": "mood", "text": "It is calm."}, "Plain point", {"text": ""}]})
    dims = [d for d, _ in out.items]
    assert dims == ["Auditory Elements", "Spatio-temporal & Cinematography", "unspecified", "unspecified"]
    assert set(dims[:2]) <= set(CHECKLIST_DIMENSIONS)
    assert out.notes == ("2 keypoints without a known dimension",)


def test_keypoint_hits_and_dialogue_and_speakers_and_qa():
    hits = R.parse_keypoint_hits({"correct": [1, 3, 3]}, ["a", "b", "c"])
    assert hits.correct == (0, 2) and hits.n_keypoints == 3  # a repeat counts once
    dialogue = R.parse_dialogue({"dialogue": [{"speaker": "a man", "utterance": " hi  there "}, ["woman", "bye"],
                                              {"speaker": "x", "utterance": ""}]})
    assert dialogue.turns == (("a man", "hi there"), ("woman", "bye")) and dialogue.notes
    with pytest.raises(AnswerError):
        R.parse_dialogue({"dialogue": ["just text"]})
    assert R.parse_speaker_verdicts({"same": [True, "no", 1]}, 3).same == (True, False, True)
    with pytest.raises(AnswerError, match="expected 2 verdicts"):
        R.parse_speaker_verdicts({"same": [True]}, 2)
    assert R.parse_qa_answer({"answer": " B "}).answer == "B"
    with pytest.raises(AnswerError):
        R.parse_qa_answer({"answer": ["B"]})


def test_parsers_raise_only_answer_error_on_random_json():
    """Whatever shape a judge returns, a parser either types it or raises AnswerError (a re-ask)."""
    import random

    rng = random.Random(0)
    leaves = [0, 3, 11, -1, 2.5, "", "3", "2. A dog barks twice.", "entailment", "yes", "#1", "Auditory", None, True, EVENTS[0]]
    keys = ["missing", "incorrect", "hallucinated", "events", "labels", "event", "label", "keypoints", "text",
            "dimension", "dialogue", "speaker", "utterance", "same", "answer", "correct", "id"]

    def value(depth=0):
        kind = rng.randrange(4 if depth < 3 else 2)
        if kind < 2:
            return rng.choice(leaves)
        if kind == 2:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randrange(5))}

    parsers = [lambda v: R.parse_event_list(v, 10), lambda v: R.parse_event_judgment(v, EVENTS),
               lambda v: R.parse_entailments(v, 2), R.parse_keypoints, lambda v: R.parse_keypoint_hits(v, EVENTS),
               R.parse_dialogue, lambda v: R.parse_speaker_verdicts(v, 2), R.parse_qa_answer]
    typed = 0
    for _ in range(1500):
        v = value()
        for parse in parsers:
            try:
                parse(v)
                typed += 1
            except AnswerError:
                pass
    assert typed > 100  # some random answers have the right shape


def test_event_tally_reads_loose_official_style_answers():
    from avcap.judge.results import parse_event_tally

    events = ["A man opens a door.", "A dog barks.", "Rain falls."]
    lists = parse_event_tally({"Missing Events": ["A dog barks."], "Number of missing events": 2,
                               "Incorrect Events": [], "Hallucination Events": ["A cat.", "A cat."]}, events)
    assert (lists.n_missing, lists.n_incorrect, lists.n_hallucinated) == (1, 0, 2) and lists.missing == (1,)
    assert any("said 2 but listed 1" in n for n in lists.notes)
    counts = parse_event_tally({"missing_events": {"count": 2}, "incorrect": "1", "hallucination events": 0}, events)
    assert (counts.n_missing, counts.n_incorrect, counts.n_hallucinated, counts.missing) == (2, 1, 0, None)
    for bad, match in (({"missing": [7], "incorrect": [], "hallucinated": []}, "not in the list"),
                       ({"missing": 3, "incorrect": 1, "hallucinated": 0}, "exceed the 3"),
                       ({"missing": [], "hallucinated": []}, "no incorrect events"),
                       ({"missing": -1, "incorrect": 0, "hallucinated": 0}, "not a count")):
        with pytest.raises(AnswerError, match=match):
            parse_event_tally(bad, events)


def test_ugc_and_vdc_answers_are_validated():
    from avcap.judge.results import parse_ugc_scores, parse_vdc_answer, parse_vdc_match

    assert parse_ugc_scores({"Visual": "4", "audio": 3.0, "details": 5}) == R.UGCScores(4, 3, 5)
    for bad in ({"visual": 6, "audio": 3, "details": 3}, {"visual": 2.5, "audio": 3, "details": 3}, {"visual": 3}):
        with pytest.raises(AnswerError):
            parse_ugc_scores(bad)
    assert parse_vdc_answer({"answer": "  a red car "}).answer == "a red car"
    with pytest.raises(AnswerError):
        parse_vdc_answer({"answer": ""})
    assert parse_vdc_match({"pred": "Yes", "score": 4.8}) == R.VDCMatch(True, 4.8)
    for bad in ({"pred": "maybe", "score": 3}, {"pred": "no", "score": 7}):
        with pytest.raises(AnswerError):
            parse_vdc_match(bad)
