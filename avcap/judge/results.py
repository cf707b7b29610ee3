"""Typed judge answers, parsed and validated from the JSON a judge returned.

A parser raises ``AnswerError`` when the answer does not have the asked-for shape, or when
it refers to items that do not exist — an event number out of range, a text that matches no
ground-truth event: the judge is then asked again, and an item whose answers stay unusable
is recorded as failed. Accepting such an answer would silently lower Miss% (``"missing":
[99, 100]`` names no real event). Content that only needs tidying — empty strings, more
events than the protocol allows — is dropped or clipped, and a note says so; the notes go
into the report next to the item.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from avcap.judge.prompts import CHECKLIST_DIMENSIONS
from avcap.judge.types import AnswerError, one_line

_NUMBER = re.compile(r"^\s*(?:event|keypoint|#)?\s*(\d+)\s*(?:[.):\-]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class EventList:
    events: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventJudgment:
    """video-SALMONN 2 verdicts; ``missing``/``incorrect`` are 0-based ground-truth indices."""

    n_events: int
    missing: tuple[int, ...]
    incorrect: tuple[int, ...]
    hallucinated: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entailments:
    labels: tuple[str, ...]  # one of "entailment", "neutral", "contradiction" per event

    @property
    def n_entailed(self) -> int:
        return sum(label == "entailment" for label in self.labels)


@dataclass(frozen=True)
class Keypoints:
    items: tuple[tuple[str, str], ...]  # (dimension, keypoint)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeypointHits:
    n_keypoints: int
    correct: tuple[int, ...]  # 0-based keypoint indices the caption states correctly
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialogue:
    turns: tuple[tuple[str, str], ...]  # (speaker, utterance)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpeakerVerdicts:
    same: tuple[bool, ...]


@dataclass(frozen=True)
class QAAnswer:
    answer: str  # the judge's raw answer string; avcap.metrics.qa.parse_choice reads the letter


def _require_key(value: Any, key: str, aliases: tuple[str, ...] = (), allow_bare: bool = True) -> Any:
    if isinstance(value, list) and allow_bare:
        return value  # a bare list is the payload itself (AVoCaDO's prompts ask for one)
    if not isinstance(value, dict):
        raise AnswerError(f"expected a JSON object with {key!r}, got {type(value).__name__}")
    for name in (key, *aliases):
        if name in value:
            return value[name]
    lowered = {str(k).strip().lower(): v for k, v in value.items()}
    for name in (key, *aliases):
        if name.lower() in lowered:
            return lowered[name.lower()]
    raise AnswerError(f"the answer has no {key!r} field (fields: {', '.join(map(str, value))[:80]})")


def _require_list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise AnswerError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _clean_strings(items: list, what: str, notes: list[str]) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):  # {"event": "..."} or {"text": "..."}
            item = next((v for v in item.values() if isinstance(v, str)), None)
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise AnswerError(f"{what} must be strings, got {type(item).__name__}")
        text = " ".join(str(item).split())
        if text:
            out.append(text)
    if len(out) < len(items):
        notes.append(f"dropped {len(items) - len(out)} empty {what}")
    return out


def parse_event_list(value: Any, max_events: int | None = None) -> EventList:
    notes: list[str] = []
    events = _clean_strings(_require_list(_require_key(value, "events"), "events"), "events", notes)
    if max_events is not None and len(events) > max_events:
        # Tarsier2's AutoDQ allows at most 10 key events per description.
        notes.append(f"clipped {len(events)} events to the first {max_events}")
        events = events[:max_events]
    return EventList(tuple(events), tuple(notes))


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def resolve_indices(entries: list, reference: list[str], what: str, notes: list[str]) -> list[int]:
    """Map a judge's references to items (numbers, "3. text", or the item's text) to 0-based indices.

    An entry that names no item (a number out of range, a text that matches none, a
    boolean) raises :class:`AnswerError`, so the judge is asked again; repeats count once.
    """
    by_text: dict[str, int] = {}  # built on the first text entry; most judges answer with numbers
    out: list[int] = []
    dropped: list[str] = []
    for entry in entries:
        index = None
        if isinstance(entry, bool):
            dropped.append(repr(entry))
            continue
        if isinstance(entry, dict):
            entry = next(iter(entry.values()), None) if len(entry) == 1 else entry.get("event", entry.get("id"))
        if isinstance(entry, (int, float)) and float(entry).is_integer():
            index = int(entry) - 1
        elif isinstance(entry, str):
            m = _NUMBER.match(entry)
            if m:
                index = int(m.group(1)) - 1
            else:
                if not by_text:
                    by_text.update((_normalise(t), i) for i, t in reversed(list(enumerate(reference))))
                norm = _normalise(entry)
                index = by_text.get(norm)
                if index is None:
                    close = difflib.get_close_matches(norm, list(by_text), n=1, cutoff=0.85)
                    index = by_text[close[0]] if close else None
        if index is None or not 0 <= index < len(reference):
            dropped.append(one_line(str(entry), 60))
            continue
        if index not in out:
            out.append(index)
    if dropped:
        raise AnswerError(f"{len(dropped)} {what} not in the list of {len(reference)}: {', '.join(dropped)[:200]}")
    return out


def parse_event_judgment(value: Any, events: list[str]) -> EventJudgment:
    if not isinstance(value, dict):
        raise AnswerError(f"expected a JSON object, got {type(value).__name__}")
    notes: list[str] = []
    missing_raw = _require_list(_require_key(value, "missing", ("missing_events", "missing events"), False), "missing")
    incorrect_raw = _require_list(
        _require_key(value, "incorrect", ("incorrect_events", "incorrect events"), False), "incorrect"
    )
    hall_names = ("hallucination", "hallucinations", "hallucinated_events", "hallucination events")
    hall_raw = _require_list(_require_key(value, "hallucinated", hall_names, False), "hallucinated")
    missing = resolve_indices(missing_raw, events, "missing events", notes)
    incorrect = resolve_indices(incorrect_raw, events, "incorrect events", notes)
    both = sorted(set(missing) & set(incorrect))
    if both:
        # An event the caption describes wrongly is mentioned, so it is not missing: counting it
        # twice would let Miss% + Hall% exceed what the caption got wrong.
        notes.append(f"{len(both)} events listed as both missing and incorrect; counted as incorrect")
        missing = [i for i in missing if i not in both]
    # Every entry counts, repeats included: a caption that states the same wrong event three
    # times hallucinates three times (the symbolic judge counts a repeat as a new event too).
    hallucinated = _clean_strings(hall_raw, "hallucinated events", notes)
    return EventJudgment(len(events), tuple(sorted(missing)), tuple(sorted(incorrect)), tuple(hallucinated), tuple(notes))


_LABELS = (("entail", "entailment"), ("contradict", "contradiction"), ("neutral", "neutral"))


def _label(raw: Any) -> str:
    text = str(raw).strip().lower()
    for prefix, label in _LABELS:
        if text.startswith(prefix):
            return label
    raise AnswerError(f"unknown entailment label {one_line(str(raw), 40)!r}")


def parse_entailments(value: Any, n_events: int) -> Entailments:
    entries = _require_key(value, "labels", ("verdicts", "results"))
    if isinstance(entries, dict):  # {"1": "entailment", ...}
        entries = [{"event": k, "label": v} for k, v in entries.items()]
    entries = _require_list(entries, "labels")
    labels: list[str | None] = [None] * n_events
    for pos, entry in enumerate(entries):
        if isinstance(entry, dict):
            number = entry.get("event", entry.get("id", pos + 1))
            try:
                index = int(str(number).strip().rstrip(".")) - 1
            except ValueError:
                raise AnswerError(f"event number {one_line(str(number), 30)!r} is not a number") from None
            raw = entry.get("label", entry.get("verdict"))
        else:
            index, raw = pos, entry
        if not 0 <= index < n_events:
            raise AnswerError(f"label for event {index + 1}, but there are {n_events} events")
        labels[index] = _label(raw)
    missing = [i + 1 for i, label in enumerate(labels) if label is None]
    if missing:
        raise AnswerError(f"no label for events {missing[:10]}")
    return Entailments(tuple(labels))  # type: ignore[arg-type]


_DIMENSION_HINTS = (
    ("cross", 4), ("narrative", 4), ("audi", 2), ("sound", 2), ("speech", 2), ("dynamic", 1), ("action", 1),
    ("spatio", 3), ("cinema", 3), ("camera", 3), ("static", 0), ("entity", 0),
)


def _dimension(raw: Any) -> str | None:
    """One of the five paper dimensions from a loose spelling ("auditory", "3. Auditory elements")."""
    text = str(raw or "").strip().lower()
    return next((CHECKLIST_DIMENSIONS[i] for hint, i in _DIMENSION_HINTS if hint in text), None)


def parse_keypoints(value: Any) -> Keypoints:
    entries = _require_list(_require_key(value, "keypoints"), "keypoints")
    notes: list[str] = []
    items: list[tuple[str, str]] = []
    unknown = 0
    for entry in entries:
        if isinstance(entry, dict):
            text, dim = entry.get("text", entry.get("keypoint")), _dimension(entry.get("dimension"))
        elif isinstance(entry, str):
            text, dim = entry, None
        else:
            raise AnswerError(f"a keypoint must be an object or a string, got {type(entry).__name__}")
        text = " ".join(str(text or "").split())
        if not text:
            continue
        if dim is None:
            unknown += 1
            dim = "unspecified"
        items.append((dim, text))
    if unknown:
        notes.append(f"{unknown} keypoints without a known dimension")
    return Keypoints(tuple(items), tuple(notes))


def parse_keypoint_hits(value: Any, keypoints: list[str]) -> KeypointHits:
    notes: list[str] = []
    entries = _require_list(_require_key(value, "correct", ("correct_keypoints", "correctly mentioned keypoints")), "correct")
    correct = resolve_indices(entries, keypoints, "keypoints", notes)
    return KeypointHits(len(keypoints), tuple(sorted(correct)), tuple(notes))


def parse_dialogue(value: Any) -> Dialogue:
    entries = _require_list(_require_key(value, "dialogue", ("dialogues", "lines")), "dialogue")
    turns: list[tuple[str, str]] = []
    dropped = 0
    for entry in entries:
        if isinstance(entry, dict):
            speaker, utterance = entry.get("speaker"), entry.get("utterance", entry.get("content", entry.get("text")))
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            speaker, utterance = entry
        else:
            raise AnswerError("each dialogue line must be {speaker, utterance}")
        utterance = " ".join(str(utterance or "").split())
        if not utterance:
            dropped += 1
            continue
        turns.append((" ".join(str(speaker or "unknown").split()) or "unknown", utterance))
    return Dialogue(tuple(turns), (f"dropped {dropped} lines without words",) if dropped else ())


_TRUE = {"true", "yes", "1", "same"}
_FALSE = {"false", "no", "0", "different"}


def parse_speaker_verdicts(value: Any, n_pairs: int) -> SpeakerVerdicts:
    entries = _require_list(_require_key(value, "same"), "same")
    if len(entries) != n_pairs:
        raise AnswerError(f"expected {n_pairs} verdicts, got {len(entries)}")
    out = []
    for entry in entries:
        text = str(entry).strip().lower()
        if isinstance(entry, bool) or text in _TRUE | _FALSE:
            out.append(entry if isinstance(entry, bool) else text in _TRUE)
        else:
            raise AnswerError(f"verdict {one_line(str(entry), 30)!r} is not true/false")
    return SpeakerVerdicts(tuple(out))


def parse_qa_answer(value: Any) -> QAAnswer:
    answer = _require_key(value, "answer", allow_bare=False) if not isinstance(value, str) else value
    if isinstance(answer, list) or isinstance(answer, dict) or answer is None:
        raise AnswerError("the answer must be an option letter or N/A")
    return QAAnswer(" ".join(str(answer).split()))


@dataclass(frozen=True)
class EventTally:
    """What one video-SALMONN 2 judgment counts, whatever the prompt's answer format.

    ``missing`` / ``incorrect`` (0-based ground-truth indices) and ``hallucinated`` are set
    when the judge listed the events, ``None`` when it only gave a number of them.
    """

    n_events: int
    n_missing: int
    n_incorrect: int
    n_hallucinated: int
    missing: tuple[int, ...] | None = None
    incorrect: tuple[int, ...] | None = None
    hallucinated: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, judgment: EventJudgment) -> EventTally:
        return cls(judgment.n_events, len(judgment.missing), len(judgment.incorrect), len(judgment.hallucinated),
                   judgment.missing, judgment.incorrect, judgment.hallucinated, judgment.notes)


_TALLY_GROUPS = (("missing", ("miss",)), ("incorrect", ("incorrect", "wrong", "inaccura")), ("hallucinated", ("halluc",)))


def _count(value: Any, what: str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, (int, float)):
        raise AnswerError(f"{what}: {value!r} is not a count")
    return None


def parse_event_tally(value: Any, events: list[str]) -> EventTally:
    """A judgment in a format avcap did not write (the official test-set prompt's answer).

    Keys are matched loosely ("Missing Events", "missing_events", "Number of missing events"
    ...); each kind may come as a list of events, as a count, or both (the list wins, a
    disagreeing count is noted). Listed ground-truth events must exist (else ``AnswerError``,
    so the judge is asked again); every hallucinated entry counts, repeats included.
    """
    if not isinstance(value, dict):
        raise AnswerError(f"expected a JSON object, got {type(value).__name__}")
    found: dict[str, dict[str, Any]] = {kind: {} for kind, _ in _TALLY_GROUPS}
    for key, item in value.items():
        low = str(key).lower()
        kind = next((k for k, hints in _TALLY_GROUPS if any(h in low for h in hints)), None)
        if kind is None:
            continue
        parts = list(item.values()) if isinstance(item, dict) else [item]
        for part in parts:
            if isinstance(part, list):
                found[kind].setdefault("list", part)
            else:
                n = _count(part, f"{key}")
                if n is not None:
                    found[kind].setdefault("count", n)
    notes: list[str] = []
    lists: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for kind, _ in _TALLY_GROUPS:
        got = found[kind]
        if not got:
            raise AnswerError(f"the answer names no {kind} events (fields: {', '.join(map(str, value))[:80]})")
        if "list" in got:
            if kind == "hallucinated":
                lists[kind] = tuple(_clean_strings(got["list"], "hallucinated events", notes))
            else:
                lists[kind] = tuple(resolve_indices(got["list"], events, f"{kind} events", notes))
            counts[kind] = len(lists[kind])
            if "count" in got and got["count"] != counts[kind]:
                notes.append(f"{kind}: the judge said {got['count']} but listed {counts[kind]}; the list counts")
        else:
            counts[kind] = got["count"]
            notes.append(f"{kind}: a count without a list")
    if "missing" in lists and "incorrect" in lists:
        both = set(lists["missing"]) & set(lists["incorrect"])
        if both:  # as in parse_event_judgment: a wrongly described event is mentioned, not missing
            notes.append(f"{len(both)} events listed as both missing and incorrect; counted as incorrect")
            lists["missing"] = tuple(i for i in lists["missing"] if i not in both)
            counts["missing"] = len(lists["missing"])
    if counts["missing"] + counts["incorrect"] > len(events):
        raise AnswerError(f"{counts['missing']} missing + {counts['incorrect']} incorrect events exceed the "
                          f"{len(events)} ground-truth events")
    return EventTally(len(events), counts["missing"], counts["incorrect"], counts["hallucinated"],
                      lists.get("missing"), lists.get("incorrect"), lists.get("hallucinated"), tuple(notes))


@dataclass(frozen=True)
class UGCScores:
    """UGC-VideoCap grades, integers 1-5."""

    visual: int
    audio: int
    details: int


def _grade(value: Any, what: str, low: int, high: int, integer: bool = True) -> float:
    if isinstance(value, bool):
        raise AnswerError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise AnswerError(f"{what} {one_line(value, 20)!r} is not a number") from None
    if not isinstance(value, (int, float)):
        raise AnswerError(f"{what} must be a number, got {type(value).__name__}")
    if integer and not float(value).is_integer():
        raise AnswerError(f"{what} {value!r} is not an integer")
    if not low <= value <= high:
        raise AnswerError(f"{what} {value!r} is outside {low}-{high}")
    return float(value)


def parse_ugc_scores(value: Any) -> UGCScores:
    out = {key: int(_grade(_require_key(value, key, allow_bare=False), key, 1, 5)) for key in ("visual", "audio", "details")}
    return UGCScores(**out)


@dataclass(frozen=True)
class VDCAnswer:
    answer: str


def parse_vdc_answer(value: Any) -> VDCAnswer:
    answer = _require_key(value, "answer", ("response",), allow_bare=False)
    if isinstance(answer, (list, dict)) or answer is None or not " ".join(str(answer).split()):
        raise AnswerError("the answer must be a short text")
    return VDCAnswer(" ".join(str(answer).split()))


@dataclass(frozen=True)
class VDCMatch:
    pred: bool  # the judge's yes / no
    score: float  # 0-5


def parse_vdc_match(value: Any) -> VDCMatch:
    raw = _require_key(value, "pred", ("match", "verdict"), allow_bare=False)
    text = str(raw).strip().lower()
    if isinstance(raw, bool):
        pred = raw
    elif text in ("yes", "no"):
        pred = text == "yes"
    else:
        raise AnswerError(f"pred {one_line(str(raw), 20)!r} is not yes or no")
    # The official example answer is {'pred': 'yes', 'score': 4.8}: fractions are accepted.
    return VDCMatch(pred, _grade(_require_key(value, "score", allow_bare=False), "score", 0, 5, integer=False))


@dataclass(frozen=True)
class FusedCaption:
    caption: str


def parse_fused_caption(value: Any) -> FusedCaption:
    text = _require_key(value, "caption", ("fused", "description"), allow_bare=False)
    if not isinstance(text, str) or len(text.split()) < 3:
        raise AnswerError("the fused caption must be a text of at least a few words")
    return FusedCaption(" ".join(text.split()))


@dataclass(frozen=True)
class FusionScore:
    score: int  # 1-5
    reason: str = ""


def parse_fusion_score(value: Any) -> FusionScore:
    score = int(_grade(_require_key(value, "score", ("completeness",), allow_bare=False), "score", 1, 5))
    reason = value.get("reason", "") if isinstance(value, dict) else ""
    return FusionScore(score, " ".join(str(reason).split()))
