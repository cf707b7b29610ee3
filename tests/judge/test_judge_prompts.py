import dataclasses

from avcap.judge import prompts as P
from avcap.judge import tasks


def test_every_prompt_has_a_distinct_name_and_versioned_key():
    names = [p.name for p in P.ALL_PROMPTS]
    assert len(set(names)) == len(names)
    for p in P.ALL_PROMPTS:
        assert p.key.startswith(f"{p.name}/{p.version}/") and "JSON" in p.system


def test_editing_the_wording_changes_the_key():
    p = P.SALMONN2_JUDGE
    edited = dataclasses.replace(p, system=p.system + " Be strict.")
    assert edited.key != p.key and edited.version == p.version


def test_render_keeps_braces_and_dollars_of_the_inputs_and_identify_finds_the_prompt():
    caption = 'He pays $5 and says "{not a field}".'
    task = tasks.salmonn2_judgment("v1", caption, ["A man pays.", "He speaks."])
    user = task.messages[1]["content"]
    assert caption in user and "1. A man pays.\n2. He speaks." in user
    assert P.identify(list(task.messages)) is P.SALMONN2_JUDGE
    assert P.identify([{"role": "user", "content": "hi"}]) is None


def test_input_hash_covers_the_inputs():
    a = tasks.qa_answer("q1", "cap", "Who?", [("A", "x"), ("B", "y")])
    b = tasks.qa_answer("q2", "cap", "Who?", [("A", "x"), ("B", "y")])
    c = tasks.qa_answer("q1", "cap.", "Who?", [("A", "x"), ("B", "y")])
    assert a.input_hash == b.input_hash != c.input_hash  # the item id names errors; it is not an input


def test_speaker_task_lists_the_pairs():
    task = tasks.speaker_consistency("v", "ref", "cap", [(("a man", "hi"), ("the man", "hi"))])
    assert 'reference speaker: a man | caption speaker: the man | line: "hi" / "hi"' in task.messages[1]["content"]
    assert task.parse({"same": [True]}).same == (True,)
