"""Ground-truth language: sentences, captions, vocabulary, QA items, and the parser that reads them back."""

import numpy as np
import pytest

from avcap.synth import lexicon as lx
from avcap.synth.language import (
    _all_canonical_events,
    atomic_events,
    caption_from_script,
    caption_vocabulary,
    event_sentence,
    paraphrase_caption,
    words_of,
)
from avcap.synth.parse import event_frame, parse_caption, parse_sentence
from avcap.synth.qa import qa_items
from avcap.synth.sampler import sample_script
from avcap.synth.world import Event, WorldConfig


@pytest.mark.parametrize("event, sentence", [
    (Event("appear", 0, {"colour": "red", "shape": "circle", "place": "left"}), "A red circle appears on the left."),
    (Event("move", 0, {"colour": "blue", "shape": "square", "direction": "up"}), "The blue square moves up."),
    (Event("hit", 0, {"colour": "red", "shape": "circle", "target_colour": "white", "target_shape": "diamond"}),
     "The red circle hits the white diamond."),
    (Event("turn", 0, {"colour": "green", "shape": "triangle", "new_colour": "purple"}),
     "The green triangle turns purple."),
    (Event("vanish", 0, {"colour": "yellow", "shape": "diamond"}), "The yellow diamond disappears."),
    (Event("text", 0, {"word": "stop", "end_frame": 9}), "The word STOP appears on the screen."),
    (Event("tone", 0, {"pitch": "high", "duration_s": 0.5}), "A high tone plays."),
    (Event("beep", 0, {"count": 1}), "A beep sounds."),
    (Event("beep", 0, {"count": 3}), "Three beeps sound."),
    (Event("noise", 0, {}), "A burst of noise plays."),
    (Event("bang", 0, {}), "A bang sounds."),
    (Event("say", 0, {"word": "hello"}), "A voice says hello."),
])
def test_event_sentences(event, sentence):
    assert event_sentence(event) == sentence


def test_caption_is_time_ordered_with_connectives():
    s = sample_script((0, 0))
    caption = caption_from_script(s)
    sentences = atomic_events(s)
    assert caption.startswith(sentences[0])
    position = 0
    for i, sentence in enumerate(sentences):  # every event, in order
        body = sentence if i == 0 else sentence[0].lower() + sentence[1:]
        found = caption.index(body, position)
        assert found >= position
        position = found + len(body)
    for a, b in zip(s.events, s.events[1:]):
        same = "At the same time, " + event_sentence(b)[0].lower() + event_sentence(b)[1:]
        assert (same in caption) == (a.frame == b.frame)
    assert caption == caption_from_script(s), "pure function of the script"


def test_vocabulary_is_small_and_covers_every_caption():
    vocab = set(caption_vocabulary())
    assert 40 <= len(vocab) <= 150
    longest = 0
    for i in range(300):
        caption = caption_from_script(sample_script((4, i), WorldConfig(speech=True, max_duration_s=12)))
        assert set(words_of(caption)) <= vocab
        longest = max(longest, len(caption.split()))
    assert longest <= 80


def test_every_canonical_sentence_parses_to_its_event_frame():
    events = _all_canonical_events()
    assert len(events) > 300
    for event in events:
        clauses = parse_sentence(event_sentence(event))
        assert [c.frame for c in clauses] == [event_frame(event)], event_sentence(event)


@pytest.mark.parametrize("text, frames", [
    ("then, THE Red Ball slowly slides to the left side!", [("move", ("red", "circle", "left"))]),
    ("A violet rhombus shows up in the centre", [("appear", ("purple", "diamond", "middle"))]),
    ("The green box collides with the blue disc with a loud bang.",
     [("hit", ("green", "square", "blue", "circle")), ("bang", ())]),
    ("The white circle changes colour to red", [("turn", ("white", "circle", "red"))]),
    ("the yellow triangle fades away", [("vanish", ("yellow", "triangle"))]),
    ('Someone says the word "Go".', [("say", ("go",))]),
    ("The screen shows the word wait.", [("text", ("wait",))]),
    ("There is a low-pitched note.", [("tone", ("low",))]),
    ("A beep sounds twice.", [("beep", (2,))]),
    ("Two beeps are heard", [("beep", (2,))]),
    ("Beeps sound.", [("beep", (None,))]),
    ("A tone plays.", [("tone", (None,))]),
    ("A red circle appears.", [("appear", ("red", "circle", None))]),
    ("We hear a hiss", [("noise", ())]),
    ("A red circle appears on the left and a high tone plays",
     [("appear", ("red", "circle", "left")), ("tone", ("high",))]),
    ("The red circle moves right and then hits the blue square, and turns green.",
     [("move", ("red", "circle", "right")), ("hit", ("red", "circle", "blue", "square")),
      ("turn", ("red", "circle", "green"))]),
    ("A bang sounds as the red circle hits the blue square.",
     [("bang", ()), ("hit", ("red", "circle", "blue", "square"))]),
])
def test_parser_tolerance(text, frames):
    assert [c.frame for c in parse_caption(text)] == frames


@pytest.mark.parametrize("text, n_unreadable, n_read", [
    ("The video is lovely.", 1, 0),
    ("asdf qwerty and zxcv, blah", 1, 0),  # nothing readable: one unit, not four
    ("A red circle appears on the left and the sky is blue.", 1, 1),
    ("A pink circle appears on the left.", 1, 0),  # colour outside the world
    ("The red circle moves diagonally.", 1, 0),
    ("Then.", 0, 0),  # a bare connective tells nothing
])
def test_unreadable_text(text, n_unreadable, n_read):
    clauses = parse_caption(text)
    assert sum(c.frame is None for c in clauses) == n_unreadable
    assert sum(c.frame is not None for c in clauses) == n_read


def test_paraphrases_read_as_the_same_events():
    for i in range(100):
        s = sample_script((5, i), WorldConfig(speech=True))
        text = paraphrase_caption(s, np.random.default_rng(i))
        assert text != caption_from_script(s)
        told = sorted(map(repr, (c.frame for c in parse_caption(text))))
        assert told == sorted(map(repr, (event_frame(e) for e in s.events)))


def test_qa_items_are_well_formed_and_answered_by_the_script():
    seen_types = set()
    for i in range(200):
        s = sample_script((6, i), WorldConfig(speech=True))
        items = qa_items(s)
        assert items == qa_items(s)
        assert 1 <= len(items) <= 3 and len({q["type"] for q in items}) == len(items)
        for q in items:
            seen_types.add(q["type"])
            assert 2 <= len(q["options"]) <= 4 and len(set(q["options"])) == len(q["options"])
            assert q["options"]["ABCD".index(q["answer"])] == q["answer_text"]
            _check_answer(s, q)
    assert seen_types == {"colour", "turn", "direction", "hit", "text", "say", "tone", "beeps", "count", "order"}


def _check_answer(s, q):
    events, answer = s.events, q["answer_text"]
    if q["type"] == "text":
        assert [e.args["word"] for e in events if e.kind == "text"] == [answer]
    elif q["type"] == "say":
        assert [e.args["word"] for e in events if e.kind == "say"] == [answer]
    elif q["type"] == "tone":
        assert [e.args["pitch"] for e in events if e.kind == "tone"] == [answer]
    elif q["type"] == "beeps":
        assert [lx.COUNT_WORDS[e.args["count"]] for e in events if e.kind == "beep"] == [answer]
    elif q["type"] == "count":
        assert lx.COUNT_WORDS.get(sum(e.kind == "appear" for e in events), "four") == answer
    elif q["type"] == "order":
        first = min((e for e in events if event_sentence(e)[:-1] in q["options"]), key=lambda e: e.frame)
        assert event_sentence(first)[:-1] == answer
    elif q["type"] == "turn":
        assert any(e.kind == "turn" and e.args["new_colour"] == answer and
                   f"the {e.args['colour']} {e.args['shape']} turn" in q["question"] for e in events)
    elif q["type"] == "colour":
        assert any(e.kind == "appear" and e.args["colour"] == answer and
                   f"the {e.args['shape']} that appears {lx.PLACE_PHRASES[e.args['place']]}" in q["question"]
                   for e in events)
    elif q["type"] == "direction":
        assert any(e.kind == "move" and e.args["direction"] == answer for e in events)
    elif q["type"] == "hit":
        assert any(e.kind == "hit" and f"the {e.args['target_colour']} {e.args['target_shape']}" == answer
                   for e in events)
