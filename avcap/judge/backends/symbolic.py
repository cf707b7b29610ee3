"""``--judge symbolic``: exact judgments for captions of avcap's synthetic world.

It answers the video-SALMONN 2 judgment prompt by reading the numbered ground-truth events
and the caption out of the prompt (the same sections every backend receives, so the engine,
cache and reports are unchanged) and scoring them with :func:`avcap.synth.symbolic.judge_caption`.
Event sentences in a list carry no times, so their list order is taken as time order.
It also answers AVoCaDO's reward prompts exactly (the GRPO recipe's R_C and R_D):

* ``checklist.keypoints``: one keypoint per event the description tells, written canonically,
  with its dimension by event kind (appear / on-screen word: Static Entity Description; move,
  hit, turn, vanish: Dynamic Action & Interaction; tone, beep, noise, bang, speech: Auditory
  Elements). The world has no camera work and its captions state no explicit sound-picture
  link, so the other two dimensions stay empty;
* ``checklist.judge``: a keypoint counts when :func:`judge_caption` finds its event told
  correctly (not missing, not incorrect) in the caption;
* ``dialogue.extract``: the caption's "A voice says WORD." clauses as (speaker, utterance);
* ``dialogue.speakers``: same speaker when the two names are equal, case-insensitively.

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


_DIMENSION_OF_KIND = {
    "appear": "Static Entity Description", "text": "Static Entity Description",
    "move": "Dynamic Action & Interaction", "hit": "Dynamic Action & Interaction",
    "turn": "Dynamic Action & Interaction", "vanish": "Dynamic Action & Interaction",
    "tone": "Auditory Elements", "beep": "Auditory Elements", "noise": "Auditory Elements",
    "bang": "Auditory Elements", "say": "Auditory Elements",
}
ANSWERED = ("salmonn2.judge", "salmonn2.judge_fallback", "checklist.keypoints", "checklist.judge",
            "dialogue.extract", "dialogue.speakers")


def canonical_sentences(text: str) -> list[tuple[str, str]]:
    """(kind, canonical sentence) of each event ``text`` tells in the world's grammar, in order;
    clauses it cannot read, or reads with an attribute left out, are skipped."""
    from avcap.synth.language import event_sentence
    from avcap.synth.parse import FIELDS, parse_caption
    from avcap.synth.world import Event

    out = []
    for clause in parse_caption(text):
        if clause.frame is None or any(v is None for v in clause.frame[1]):
            continue
        kind, values = clause.frame
        out.append((kind, event_sentence(Event(kind, 0, dict(zip(FIELDS[kind], values))))))
    return out


def _correct_indices(events: list[str], caption: str) -> list[int]:
    from avcap.synth.symbolic import judge_caption

    verdict = judge_caption(events, caption)
    wrong: dict[str, int] = {}
    for e in verdict.missing + verdict.incorrect:
        wrong[e] = wrong.get(e, 0) + 1
    correct = []
    for i, event in enumerate(events, 1):  # duplicates: the first ones are taken as the wrong ones
        if wrong.get(event, 0):
            wrong[event] -= 1
        else:
            correct.append(i)
    return correct


def _avocado(name: str, sections: dict[str, str]) -> str:
    if name == "checklist.keypoints":
        return json.dumps({"keypoints": [{"dimension": _DIMENSION_OF_KIND[kind], "text": sentence}
                                         for kind, sentence in canonical_sentences(sections.get("description", ""))]})
    if name == "checklist.judge":
        return json.dumps({"correct": _correct_indices(_numbered(sections.get("keypoints", "")),
                                                        sections.get("caption", ""))})
    if name == "dialogue.extract":
        from avcap.synth.parse import parse_caption

        lines = [{"speaker": "a voice", "utterance": c.frame[1][0]} for c in parse_caption(sections.get("description", ""))
                 if c.frame is not None and c.frame[0] == "say" and c.frame[1][0]]
        return json.dumps({"dialogue": lines})
    # dialogue.speakers: 'reference speaker: X | caption speaker: Y | line: ...' per numbered pair
    same = []
    for line in _numbered(sections.get("pairs", "")):
        parts = dict(part.strip().split(": ", 1) for part in line.split(" | ")[:2] if ": " in part)
        same.append(parts.get("reference speaker", "").casefold() == parts.get("caption speaker", "").casefold())
    return json.dumps({"same": same})


def answer(messages: list[Message]) -> str:
    from avcap.errors import AvcapError
    from avcap.synth.symbolic import judge_caption

    spec = P.identify(messages)
    if spec is None or spec.name not in ANSWERED:
        name = spec.name if spec else "an unknown prompt"
        raise AnswerError(f"the symbolic judge scores only the salmonn2 metric and AVoCaDO's checklist / "
                          f"dialogue prompts ({', '.join(ANSWERED)}), not {name}")
    user = next(m["content"] for m in messages if m.get("role") == "user")
    sections = {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}
    if spec.name not in ("salmonn2.judge", "salmonn2.judge_fallback"):
        try:
            return _avocado(spec.name, sections)
        except AvcapError as err:
            raise AnswerError(f"symbolic judge: {err}") from None
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
