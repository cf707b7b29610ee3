import pytest

from avcap.judge.jsonrepair import repair_json
from avcap.judge.types import AnswerError


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"missing": [1, 2]}', {"missing": [1, 2]}),
        ('```json\n{"missing": [1, 2],}\n```', {"missing": [1, 2]}),
        ("Sure! Here it is:\n```\n{\"a\": [1,]}\n```\nAnything else?", {"a": [1]}),
        ('The result is {"a": {"b": "x}y"}, "c": 1} as requested.', {"a": {"b": "x}y"}, "c": 1}),
        ("<think>the events... {not json}</think>\n{\"ok\": true}", {"ok": True}),
        ("['a point', 'another']", ["a point", "another"]),
        ("{'labels': ['entailment', 'neutral'], 'done': True}", {"labels": ["entailment", "neutral"], "done": True}),
        ('{\u201cmissing\u201d: [3]}', {"missing": [3]}),
        ('note [see below]: {"x": 1}', {"x": 1}),
        ('{"text": "it\'s a \\"quote\\", fine"}', {"text": 'it\'s a "quote", fine'}),
    ],
)
def test_repairs(text, expected):
    assert repair_json(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"missing": [1, 2', "```json\n{\"a\": \n```", "42"])
def test_unrepairable_raises_one_line(text):
    with pytest.raises(AnswerError) as info:
        repair_json(text)
    assert "\n" not in str(info.value)


def test_first_object_wins():
    assert repair_json('{"a": 1} and later {"a": 2}') == {"a": 1}
