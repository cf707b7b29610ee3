"""Small benchmarks and caption files written on the fly, and scripted judges for them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from avcap.judge import prompts as P

REF_V1 = ('A man in a red jacket walks into a kitchen. The man says, "Where is the coffee?" '
          "A dog barks twice. Soft piano music plays.")
EVENTS_V1 = ["A man in a red jacket walks into a kitchen.", 'The man says, "Where is the coffee?"',
             "A dog barks twice.", "Soft piano music plays."]
REF_V2 = "A woman rides a bicycle along a river. She waves at a boat. A bell rings. The camera pans to the water."


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=1))
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def conv(reference: str) -> list[dict]:
    return [{"from": "human", "value": "<video>\nDescribe the video."}, {"from": "gpt", "value": reference}]


@pytest.fixture
def bench_files(tmp_path):
    """A video-SALMONN 2 style test set (one malformed row) and two caption files."""
    rows = [
        {"id": "v1", "video": "v1.mp4", "conversations": conv(REF_V1), "events": EVENTS_V1},
        {"id": "v2", "video": "v2.mp4", "conversations": conv(REF_V2)},  # events extracted by the judge
        {"id": "v3", "video": "v3.mp4", "conversations": conv("Children play football. A whistle blows."),
         "events": ["Children play football.", "A whistle blows."]},
        {"id": "v4", "video": "v4.mp4", "conversations": conv("A cat sleeps on a sofa."), "events": ["A cat sleeps on a sofa."]},
        {"id": "bad", "conversations": conv("no video here")},  # malformed: neither video nor audio
    ]
    caps_a = [
        {"id": "v1", "video": "v1.mp4", "caption": 'A man in a red jacket walks into the kitchen. He says, "Where is the coffee?" '
         "A cat jumps on the table <script>alert(1)</script>.", "model": "model-a", "error": None},
        {"id": "v2", "video": "v2.mp4", "caption": "A woman rides a bicycle along a river and waves at a boat.",
         "model": "model-a", "error": None},
        {"id": "v3", "video": "v3.mp4", "caption": None, "model": "model-a", "error": "MediaError: v3.mp4: truncated\nfile"},
        # v4 has no caption row at all
    ]
    caps_b = [
        {"id": "v1", "video": "v1.mp4", "caption": 'A man walks into a kitchen. The man says, "Where is the coffee?" '
         "A dog barks twice. Piano music plays.", "model": "model-b", "error": None},
        {"id": "v2", "video": "v2.mp4", "caption": "A woman rides a bicycle along a river. She waves at a boat. A bell rings.",
         "model": "model-b", "error": None},
        {"id": "v3", "video": "v3.mp4", "caption": "Children play football.", "model": "model-b", "error": None},
        {"id": "v4", "video": "v4.mp4", "caption": "A cat sleeps on a sofa.", "model": "model-b", "error": None},
    ]
    return (write_json(tmp_path / "test.json", rows), write_jsonl(tmp_path / "model_a.jsonl", caps_a),
            write_jsonl(tmp_path / "model_b.jsonl", caps_b))


_SECTION = re.compile(r"<(?P<tag>[a-z]+)>\n(?P<body>.*?)\n</(?P=tag)>", re.DOTALL)


def sections(messages) -> dict[str, str]:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}


def responder(**handlers):
    """A scripted judge: ``handlers[prompt name](sections) -> JSON-able``; answers are JSON text."""

    def respond(messages):
        spec = P.identify(messages)
        handler = handlers.get(spec.name.replace(".", "_"))
        if handler is None:
            raise AssertionError(f"unexpected judge prompt {spec.name}")
        out = handler(sections(messages))
        return out if isinstance(out, str) else json.dumps(out)

    return respond
