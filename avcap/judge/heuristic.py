"""A deterministic word-overlap judge that answers every avcap prompt without a model.

It is what ``--judge scripted`` uses and what the local test server answers with, so the
whole evaluation path runs offline and gives the same numbers every time. It is a crude
judge (content-word overlap, not understanding): use it to test plumbing and to demo the
reports, never to compare captioners.
"""

from __future__ import annotations

import json
import re

from avcap.judge import prompts as P
from avcap.judge.types import Message

_STOP = frozenset(
    "a an the and or but of to in on at by for with from into onto over under then than this that these those "
    "is are was were be been being it its he she they them his her their there here as while when who whom which "
    "what also again very just some any each one two can could would will video scene shows shown".split()
)
_SPEECH = re.compile(
    r"(?P<speaker>[A-Za-z][\w' -]{0,60}?)\s+(?:says|said|asks|asked|shouts|replies|whispers|exclaims|adds)"
    r"[,:]?\s*[\"\u201c](?P<words>[^\"\u201d]+)[\"\u201d]"
)
_SECTION = re.compile(r"<(?P<tag>[a-z]+)>\n(?P<body>.*?)\n</(?P=tag)>", re.DOTALL)


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) > 2 and w not in _STOP}


def coverage(part: str, whole: str) -> float:
    """Share of ``part``'s content words that occur in ``whole`` (1.0 for an empty part)."""
    mine = words(part)
    return len(mine & words(whole)) / len(mine) if mine else 1.0


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|(?<=[.!?][\"\u201d])\s+", " ".join(text.split())) if s.strip()]


def _numbered(body: str) -> list[str]:
    return [re.sub(r"^\d+\.\s*", "", line).strip() for line in body.splitlines() if line.strip()]


def _dimension(sentence: str) -> str:
    low = sentence.lower()
    static, dynamic, auditory, cinema, _ = P.CHECKLIST_DIMENSIONS
    if any(w in low for w in ("says", "said", "music", "sound", "voice", "hear", "speaks", "song")):
        return auditory
    if any(w in low for w in ("camera", "cut", "scene", "zoom", "shot")):
        return cinema
    if any(w in low for w in (" is ", " are ", "wearing", "stands", "sits")):
        return static
    return dynamic


def answer(messages: list[Message]) -> str:
    """The JSON answer (as text) to a conversation built from one of ``avcap.judge.prompts``."""
    spec = P.identify(messages)
    user = next(m["content"] for m in messages if m.get("role") == "user")
    sec = {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}
    if spec is None:
        return json.dumps({"error": "unknown prompt"})
    name = spec.name
    if name in ("salmonn2.events", "autodq.events"):
        return json.dumps({"events": sentences(sec["description"])})
    if name in ("salmonn2.judge", "salmonn2.judge_fallback"):
        events, caption = _numbered(sec["events"]), sec["caption"]
        missing, incorrect = [], []
        for i, event in enumerate(events, 1):
            cov = coverage(event, caption)
            if cov < 0.5:
                missing.append(i)
            elif cov < 0.75:
                incorrect.append(i)
        all_events = " ".join(events)
        hallucinated = [s for s in sentences(caption) if coverage(s, all_events) < 0.3]
        return json.dumps({"missing": missing, "incorrect": incorrect, "hallucinated": hallucinated})
    if name == "autodq.entail":
        events, text = _numbered(sec["events"]), sec["description"]
        labels = [{"event": i, "label": "entailment" if coverage(e, text) >= 0.6 else "neutral"}
                  for i, e in enumerate(events, 1)]
        return json.dumps({"labels": labels})
    if name == "checklist.keypoints":
        return json.dumps({"keypoints": [{"dimension": _dimension(s), "text": s} for s in sentences(sec["description"])]})
    if name == "checklist.judge":
        keypoints, caption = _numbered(sec["keypoints"]), sec["caption"]
        return json.dumps({"correct": [i for i, k in enumerate(keypoints, 1) if coverage(k, caption) >= 0.6]})
    if name == "dialogue.extract":
        turns = [{"speaker": " ".join(m.group("speaker").split()[-4:]), "utterance": m.group("words").strip()}
                 for m in _SPEECH.finditer(" ".join(sec["description"].split()))]
        return json.dumps({"dialogue": turns})
    if name == "dialogue.speakers":
        same = []
        for line in _numbered(sec["pairs"]):
            m = re.match(r"reference speaker: (.*?) \| caption speaker: (.*?) \|", line)
            a, b = (m.group(1), m.group(2)) if m else ("", "")
            shorter, longer = sorted((a, b), key=lambda s: len(words(s)))
            same.append(coverage(shorter, longer) >= 0.5)
        return json.dumps({"same": same})
    if name == "qa.answer":
        caption = sec["caption"]
        options = [re.match(r"^([A-Z])[.)]\s*(.*)$", line.strip()) for line in sec["options"].splitlines()]
        scored = [(coverage(m.group(2), caption), m.group(1)) for m in options if m]
        best = max(scored, default=(0.0, "N/A"), key=lambda s: s[0])
        return json.dumps({"answer": best[1] if best[0] >= 0.34 else "N/A"})
    if name == "ugc.score":
        grade = 1 + round(4 * coverage(sec["reference"], sec["prediction"]))
        return json.dumps({"visual": grade, "audio": grade, "details": grade})
    if name == "vdc.answer":
        scored = [(coverage(sec["question"], s), s) for s in sentences(sec["description"])]
        best = max(scored, default=(0.0, "unknown"), key=lambda s: s[0])
        return json.dumps({"answer": best[1] if best[0] > 0 else "unknown"})
    if name == "vdc.match":
        cov = coverage(sec["correct"], sec["predicted"])
        return json.dumps({"pred": "yes" if cov >= 0.5 else "no", "score": round(5 * cov)})
    return json.dumps({"error": f"no heuristic for {name}"})
