"""``--judge symbolic``: exact judgments for captions of avcap's synthetic world.

It answers the video-SALMONN 2 judgment prompt by reading the numbered ground-truth events
and the caption out of the prompt (the same sections every backend receives, so the engine,
cache and reports are unchanged) and scoring them with :func:`avcap.synth.symbolic.judge_caption`.
Event sentences in a list carry no times, so their list order is taken as time order.
Other prompts are not answerable exactly and come back as an error, which the engine records
as a failed item rather than guessing.
"""

from __future__ import annotations

import json

from avcap.judge import prompts as P
from avcap.judge.backends.scripted import ScriptedBackend
from avcap.judge.heuristic import _SECTION, _numbered
from avcap.judge.registry import BackendOptions
from avcap.judge.types import AnswerError, Message

MODEL = "symbolic-v1"


def answer(messages: list[Message]) -> str:
    from avcap.errors import AvcapError
    from avcap.synth.symbolic import judge_caption

    spec = P.identify(messages)
    if spec is None or spec.name not in ("salmonn2.judge", "salmonn2.judge_fallback"):
        name = spec.name if spec else "an unknown prompt"
        raise AnswerError(f"the symbolic judge scores only the salmonn2 metric, not {name}")
    user = next(m["content"] for m in messages if m.get("role") == "user")
    sections = {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}
    events = _numbered(sections.get("events", ""))
    try:
        verdict = judge_caption(events, sections.get("caption", ""))
    except AvcapError as err:
        raise AnswerError(f"symbolic judge: {err}") from None
    # An event sentence can occur twice ("A beep sounds." at two times): each verdict entry
    # takes the next unused number of that sentence, so duplicates stay distinct events.
    numbers: dict[str, list[int]] = {}
    for i, event in enumerate(events, 1):
        numbers.setdefault(event, []).append(i)
    return json.dumps({
        "missing": [numbers[e].pop(0) for e in verdict.missing],
        "incorrect": [numbers[e].pop(0) for e in verdict.incorrect],
        "hallucinated": verdict.hallucinated,
    })


def from_options(options: BackendOptions) -> ScriptedBackend:
    backend = ScriptedBackend(answer, model=options.model or MODEL)
    backend.name = "symbolic"
    return backend
