"""Reading a judge prompt out of an evaluation script without running it; Python renders the same text."""

import pytest

from avcap.errors import ConfigError
from avcap.eval.benchmarks.protocol_file import discover_protocol_file, read_protocol_file

EVENTS = ["A man opens a door.", "A dog barks."]
FILLER = "Judge the caption against the ground-truth events of the video and count each kind of error. " * 2

STYLES = {
    "fstring_list_repr": f'''
def prompt(gt_events, caption):
    return f"""{FILLER}Events: {{gt_events}} Caption: {{caption}}"""
''',
    "format_keywords": f'''
TEMPLATE = "{FILLER}Events:\\n{{events}}\\nCaption: {{caption}}"
def ask(item):
    return TEMPLATE.format(events="\\n".join(item["events"]), caption=item["pred"])
''',
    "percent": f'''
def build(events, prediction):
    return "{FILLER}Events: %s Caption: %s" % (str(events), prediction)
''',
    "concatenation": f'''
def build(events, output_text):
    return "{FILLER}" + "Events: " + json.dumps(events) + " Caption: " + output_text
import json
''',
}

CALLS = {
    "fstring_list_repr": "prompt(EVENTS, CAPTION)",
    "format_keywords": "ask({'events': EVENTS, 'pred': CAPTION})",
    "percent": "build(EVENTS, CAPTION)",
    "concatenation": "build(EVENTS, CAPTION)",
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_each_template_form_renders_as_python_would(tmp_path, style):
    source = STYLES[style]
    script = tmp_path / "evaluation.py"
    script.write_text(source)
    official = read_protocol_file(script)
    namespace = {"EVENTS": EVENTS, "CAPTION": 'He says "hi" {not a field} $5.'}
    exec(compile(source, "script", "exec"), namespace)
    expected = eval(CALLS[style], namespace)
    assert official.main.render(namespace["CAPTION"], EVENTS) == expected
    assert official.fallback is None and len(official.file_sha256) == 64


def test_unrenderable_slots_and_missing_prompts_fail_in_one_line(tmp_path):
    odd = tmp_path / "odd.py"
    odd.write_text(f'def p(events, caption):\n    return f"{FILLER}{{format_events(events)}} {{caption}}"\n')
    with pytest.raises(ConfigError, match=r"line 2: avcap cannot render the prompt slot `format_events\(events\)`"):
        read_protocol_file(odd)
    none = tmp_path / "none.py"
    none.write_text('print(f"{caption}")\n')
    with pytest.raises(ConfigError, match="no judge prompt found"):
        read_protocol_file(none)
    bad = tmp_path / "bad.py"
    bad.write_text("def (:\n")
    with pytest.raises(ConfigError, match="not a Python script"):
        read_protocol_file(bad)


def test_named_templates_and_discovery_beside_the_data(tmp_path):
    source = f'''
def second_try(events, caption):
    return f"{FILLER} SECOND {{events}} {{caption}}"
def main_prompt(events, caption):
    return f"{FILLER} MAIN {{events}} {{caption}}"
'''
    (tmp_path / "eval_captions.py").write_text(source)
    (tmp_path / "helper.py").write_text("x = 1\n")
    data = tmp_path / "test.json"
    data.write_text("[]")
    assert discover_protocol_file(data) == tmp_path / "eval_captions.py"
    auto = read_protocol_file(tmp_path / "eval_captions.py")
    assert auto.main.name == "main_prompt" and auto.fallback.name == "second_try"  # "second" marks a fallback
    chosen = read_protocol_file(tmp_path / "eval_captions.py", prompt_name="second_try", fallback_name="main_prompt")
    assert "SECOND" in chosen.main.render("c", EVENTS) and "MAIN" in chosen.fallback.render("c", EVENTS)
    with pytest.raises(ConfigError, match="no prompt template named 'nope'"):
        read_protocol_file(tmp_path / "eval_captions.py", prompt_name="nope")
    assert discover_protocol_file(tmp_path / "elsewhere" / "t.json") is None
