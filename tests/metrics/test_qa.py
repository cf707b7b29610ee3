"""QA-by-caption: option-letter parsing and accuracy with abstention counted wrong."""

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.qa import parse_choice, qa_accuracy


@pytest.mark.parametrize(
    "text, expected",
    [
        ("B", "B"),
        ("b", "B"),
        ("(C)", "C"),
        ("D.", "D"),
        ("**A**", "A"),
        ("  [B]  ", "B"),
        ("Answer: B", "B"),
        ("The answer is C.", "C"),
        ("answer is **D**", "D"),
        ("The correct option is (A).", "A"),
        ("Option B", "B"),
        ("B. The man opens the door.", "B"),
        ("C) a dog barks", "C"),
        ("I think (B) fits best", "B"),
        ("(A) The man walks.", "A"),
    ],
)
def test_parses_letters(text, expected):
    assert parse_choice(text, "ABCD") == expected


@pytest.mark.parametrize(
    "text",
    [
        "N/A",
        "n/a",
        "N / A",
        "Answer: N/A",
        "Not enough information in the caption.",
        "Cannot be determined from the description.",
        "unknown",
        "",
        "   ",
        None,
    ],
)
def test_abstentions_are_none(text):
    assert parse_choice(text, "ABCD") is None


@pytest.mark.parametrize(
    "text",
    [
        "A man walks into the room.",  # an article, not option A
        "(A) or (B)",  # two different letters
        "E",  # not among the options
        "The answer is E.",
        "The answer: a dog",
        "Probably the second one",
    ],
)
def test_unreadable_or_ambiguous_are_none(text):
    assert parse_choice(text, "ABCD") is None


def test_options_given_as_list_and_lowercase():
    assert parse_choice("e", ["a", "b", "c", "d", "e"]) == "E"


@pytest.mark.parametrize("options", ["", "AB1", ["A", "BC"], "AAB"])
def test_rejects_bad_options(options):
    with pytest.raises(MetricInputError):
        parse_choice("A", options)


def test_rejects_non_text_answer():
    with pytest.raises(MetricInputError, match="expected answer text"):
        parse_choice(3, "ABCD")


def test_accuracy_counts_abstention_wrong():
    """5 questions: A right, None (abstained) wrong, c right (case-insensitive), D wrong, B right -> 3/5."""
    assert qa_accuracy(["A", None, "c", "D", "B"], ["A", "B", "C", "A", "B"]) == pytest.approx(0.6)
    assert qa_accuracy([None, None], ["A", "B"]) == 0.0


def test_accuracy_end_to_end_with_parser():
    answers = ["Answer: A", "N/A", "(b)", "A man"]
    predicted = [parse_choice(a, "ABCD") for a in answers]
    assert predicted == ["A", None, "B", None]
    assert qa_accuracy(predicted, ["A", "A", "B", "A"]) == 0.5


@pytest.mark.parametrize(
    "predicted, gold, cause",
    [
        (["A"], ["A", "B"], "1 answers for 2"),
        ([], [], "no questions"),
        (["A"], ["AB"], "not one letter"),
        ([1], ["A"], "letter or None"),
        ("AB", ["A", "B"], "a string"),
    ],
)
def test_accuracy_rejects_bad_input(predicted, gold, cause):
    with pytest.raises(MetricInputError, match=cause):
        qa_accuracy(predicted, gold)
