"""Repetition rate (seq-rep-n) and repetition-collapse detection."""

import random

import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.repetition import (
    find_loop,
    is_repetition_collapse,
    repcol_rate,
    repetition_rate,
    tokenize_words,
)

# A detailed caption written in the style of the video-SALMONN 2 test set (Fig. 5's whale shark).
NORMAL_CAPTION = (
    "The video begins with a whale shark swimming slowly through clear blue water while background "
    "music plays. A yellow box with the number 1 appears, followed by the text 'The world's biggest "
    "living fish is a shark.' A woman says, 'The world's biggest living fish is a shark. Of the "
    "estimated 34,000 species of fish, the largest are whale sharks.' The scene changes to a vibrant "
    "coral reef teeming with small fish. A diver swims near the whale shark, keeping a respectful "
    "distance, and the camera follows the shark from above. The woman's voice continues, 'These gentle "
    "giants usually grow to about 40 feet long and weigh an estimated 15 tons. Their mouths alone can "
    "span 4 feet wide.' The background music continues as the camera shows a close-up of the shark's "
    "mouth. The text 'lideo.com' can be seen in the bottom right corner throughout the video."
)


def test_tokenize_words():
    assert tokenize_words("It's 34,000 fish!") == ["it", "s", "34", "000", "fish"]
    assert tokenize_words("鲸鲨在游泳 whale") == ["鲸", "鲨", "在", "游", "泳", "whale"]
    assert tokenize_words("") == []
    with pytest.raises(MetricInputError):
        tokenize_words(None)


def test_repetition_rate_hand_values():
    """ "a b a b a b": bigrams ab ba ab ba ab -> 2 unique of 5 -> 1 - 2/5 = 0.6.
    Unigrams of "x x x x": 1 unique of 4 -> 0.75. No repeats -> 0. Fewer tokens than n -> 0."""
    assert repetition_rate("a b a b a b", n=2) == pytest.approx(0.6)
    assert repetition_rate("x x x x", n=1) == pytest.approx(0.75)
    assert repetition_rate("one two three four five", n=4) == 0.0
    assert repetition_rate("one two three", n=4) == 0.0
    assert repetition_rate("The Cat. the cat!", n=2) == pytest.approx(1 / 3)  # case and punctuation ignored


def test_repetition_rate_against_naive_counting():
    rng = random.Random(2)
    for _ in range(100):
        words = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        n = rng.randint(1, 4)
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        seen, repeats = set(), 0
        for g in grams:  # count n-grams that already occurred earlier
            repeats += g in seen
            seen.add(g)
        expected = repeats / len(grams) if grams else 0.0
        assert repetition_rate(" ".join(words), n=n) == pytest.approx(expected)


def test_repetition_rate_rejects_bad_n():
    with pytest.raises(MetricInputError):
        repetition_rate("a b c", n=0)


def test_normal_caption_is_low_and_not_collapsed():
    assert repetition_rate(NORMAL_CAPTION) < 0.1
    assert not is_repetition_collapse(NORMAL_CAPTION)


def test_looping_caption_collapses():
    """A caption that falls into a 9-word loop until the token limit (a truncated last copy)."""
    looped = NORMAL_CAPTION + " The shark swims past the diver and the music continues." * 12
    looped = looped[:-20]
    assert is_repetition_collapse(looped)
    assert find_loop(tokenize_words(looped)) is not None


def test_find_loop_hand_values():
    """x [a b] [a b] [a b] a y: period 2 starting at token 1, span 7 (three whole copies + 'a')."""
    tokens = "x a b a b a b a y".split()
    assert find_loop(tokens, min_repeats=3, min_span=6) == (2, 1, 7)
    assert find_loop(tokens, min_repeats=4, min_span=6) is None  # only 3 whole copies
    assert find_loop(tokens, min_repeats=3, min_span=8) is None  # span 7 < 8
    assert find_loop(["go"] * 40, min_repeats=4, min_span=40) == (1, 0, 40)
    assert find_loop(["go"] * 39, min_repeats=4, min_span=40) is None
    assert find_loop([], min_repeats=2, min_span=1) is None


def test_find_loop_prefers_shortest_period():
    tokens = ["la"] * 60  # also a loop of period 2, 3, ...
    assert find_loop(tokens)[0] == 1


def test_find_loop_against_brute_force():
    rng = random.Random(4)
    for _ in range(150):
        block = [rng.choice("abc") for _ in range(rng.randint(1, 4))]
        tokens = [rng.choice("abcd") for _ in range(rng.randint(0, 6))]
        tokens += block * rng.randint(1, 5) + [rng.choice("abcd") for _ in range(rng.randint(0, 6))]
        min_repeats, min_span = rng.randint(2, 4), rng.randint(1, 12)
        expected = None
        for period in range(1, len(tokens)):  # brute force: every start and every span
            for start in range(len(tokens)):
                span = 0
                while start + span < len(tokens) and (
                    span < period or tokens[start + span] == tokens[start + span - period]
                ):
                    span += 1
                if span >= min_span and span // period >= min_repeats and span >= 2 * period:
                    expected = (period, start)
                    break
            if expected:
                break
        got = find_loop(tokens, min_repeats=min_repeats, min_span=min_span, max_period=len(tokens))
        assert (got[:2] if got else None) == expected, (tokens, min_repeats, min_span)


def test_varied_loop_caught_by_rate_threshold():
    """No exact 40-token loop (a counter changes every sentence) but most 4-grams repeat."""
    text = " ".join(f"The man opens the red door and walks into the kitchen again {i}." for i in range(8))
    assert find_loop(tokenize_words(text)) is None
    assert repetition_rate(text) >= 0.5
    assert is_repetition_collapse(text)
    assert not is_repetition_collapse(text, rep_threshold=None)


def test_short_replies_are_not_collapse():
    assert not is_repetition_collapse("ha ha ha ha ha")  # seq-rep-4 is 0.5 but only 5 tokens
    assert not is_repetition_collapse("")


def test_repcol_rate():
    texts = [NORMAL_CAPTION, "go " * 50, NORMAL_CAPTION, "The dog barks. " * 20]
    assert repcol_rate(texts) == 0.5
    assert repcol_rate(texts, min_span=1000, rep_threshold=None) == 0.0  # kwargs reach the detector


@pytest.mark.parametrize("texts, cause", [([], "no captions"), ("one caption", "one string")])
def test_repcol_rate_rejects_bad_input(texts, cause):
    with pytest.raises(MetricInputError, match=cause):
        repcol_rate(texts)


def test_collapse_rejects_bad_parameters():
    with pytest.raises(MetricInputError, match="min_repeats"):
        is_repetition_collapse("a b", min_repeats=1, rep_threshold=None)
    with pytest.raises(MetricInputError, match=r"\[0, 1\]"):
        is_repetition_collapse("a b", rep_threshold=1.5)
