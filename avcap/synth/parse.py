"""Read a caption back into event frames, using the grammar ``language`` writes.

A *frame* is ``(kind, fields)`` with the fields of :data:`FIELDS` — the same tuple
:func:`event_frame` makes from a script event, so matching a caption to the ground truth is
tuple comparison.

Tolerance, on purpose light: case, punctuation, quotes and hyphens, articles, manner adverbs
("slowly"), leading connectives ("Then,", "At the same time,"), the synonyms in ``lexicon``,
compound sentences joined by "and" / "while" / "as" / "when" / commas (a later clause may leave
out its subject: "... moves right and hits the blue square"), and a collision told with its
sound ("... hits the blue square with a bang"). An attribute left out ("A tone plays.") parses
with that field ``None``, which never equals the truth, so the judge counts it as described
incorrectly rather than not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from avcap.synth import lexicon as lx
from avcap.synth.world import Event

Frame = tuple[str, tuple]
FIELDS: dict[str, tuple[str, ...]] = {
    "appear": ("colour", "shape", "place"),
    "move": ("colour", "shape", "direction"),
    "hit": ("colour", "shape", "target_colour", "target_shape"),
    "turn": ("colour", "shape", "new_colour"),
    "vanish": ("colour", "shape"),
    "text": ("word",),
    "tone": ("pitch",),
    "beep": ("count",),
    "noise": (),
    "bang": (),
    "say": ("word",),
}


def event_frame(event: Event) -> Frame:
    """The frame a script event is read as: ``(kind, values of FIELDS[kind])``."""
    values = []
    for name in FIELDS[event.kind]:
        value = event.args[name]
        values.append(int(value) if name == "count" else str(value).lower())
    return event.kind, tuple(values)


@dataclass(frozen=True)
class Clause:
    """One event as told by a caption; ``frame`` is None when the text could not be read."""

    text: str
    frame: Frame | None


# --- tokens and phrase tables -------------------------------------------------------------------

_SENTENCE_SPLIT = re.compile(r"[.!?;:\n]+")
_TOKEN = re.compile(r"[a-z0-9]+|,")
_QUOTES = re.compile(r"[\"'`\u2018\u2019\u201c\u201d]")
_SEPARATORS = frozenset({",", "and", "while", "as", "when", "then"})


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (commas kept as tokens), articles removed."""
    text = _QUOTES.sub("", text.lower().replace("-", " "))
    return [t for t in _TOKEN.findall(text) if t not in lx.ARTICLES]


def _table(phrases: Iterable[str]) -> list[tuple[str, ...]]:
    """Phrases as token tuples without articles, longest first (so "turns into" beats "turns")."""
    return sorted({tuple(tokenize(p)) for p in phrases}, key=lambda p: (-len(p), p))


def _map_table(mapping: Mapping[str, object]) -> list[tuple[tuple[str, ...], object]]:
    return sorted(((tuple(tokenize(k)), v) for k, v in mapping.items()), key=lambda kv: (-len(kv[0]), kv[0]))


APPEAR, MOVE, HIT, TURN, VANISH = (_table(v) for v in (lx.APPEAR_VERBS, lx.MOVE_VERBS, lx.HIT_VERBS,
                                                        lx.TURN_VERBS, lx.VANISH_VERBS))
SOUND_VERB, SAY_VERB, HEAR_LEAD, CONNECTIVE = (_table(v) for v in (lx.SOUND_VERBS, lx.SAY_VERBS,
                                                                    lx.HEAR_LEADS, lx.CONNECTIVES))
NOISE, BANG = _table(lx.NOISE_PHRASES), _table(lx.BANG_NOUNS)
TIMES = _map_table(lx.TIMES_PHRASES)
PLACE_FILLERS = frozenset({"on", "at", "in", "to", "near", "of", "side", "screen", "frame", "part", "video"})
DIRECTION_FILLERS = frozenset({"to", "towards", "toward", "of", "side", "screen", "bit", "little", "across"})
VANISH_FILLERS = frozenset({"from", "view", "screen", "sight", "off", "out", "of"})
SCREEN_FILLERS = frozenset(w for p in lx.SCREEN_FILLERS for w in tokenize(p))
_FAIL = object()
OBJECT_KINDS = frozenset({"appear", "move", "hit", "turn", "vanish"})


def _match(toks: list[str], i: int, table: list[tuple[str, ...]]) -> int | None:
    for phrase in table:
        if tuple(toks[i:i + len(phrase)]) == phrase:
            return i + len(phrase)
    return None


def _slot(rest: list[str], synonyms: Mapping[str, str], fillers: frozenset[str]):
    """One attribute word among fillers: its value, None if absent, _FAIL if anything else is there."""
    words = [t for t in rest if t not in fillers]
    if not words:
        return None
    if len(words) == 1 and words[0] in synonyms:
        return synonyms[words[0]]
    return _FAIL


def _object(toks: list[str], i: int) -> tuple[tuple[str, str], int] | None:
    if i + 1 < len(toks) and toks[i] in lx.COLOUR_SYNONYMS and toks[i + 1] in lx.SHAPE_SYNONYMS:
        return (lx.COLOUR_SYNONYMS[toks[i]], lx.SHAPE_SYNONYMS[toks[i + 1]]), i + 2
    return None


# --- clause grammars (each returns a list of frames, or None if the tokens are not its kind) ----

def _object_clause(toks: list[str]) -> list[Frame] | None:
    subject = _object(toks, 0)
    if subject is None:
        return None
    (colour, shape), i = subject
    for table, read in ((APPEAR, _read_appear), (VANISH, _read_vanish), (MOVE, _read_move),
                        (HIT, _read_hit), (TURN, _read_turn)):
        j = _match(toks, i, table)
        if j is not None:
            frames = read(colour, shape, toks[j:])
            if frames is not None:
                return frames
    return None


def _read_appear(colour: str, shape: str, rest: list[str]) -> list[Frame] | None:
    place = _slot(rest, lx.PLACE_SYNONYMS, PLACE_FILLERS)
    return None if place is _FAIL else [("appear", (colour, shape, place))]


def _read_move(colour: str, shape: str, rest: list[str]) -> list[Frame] | None:
    direction = _slot(rest, lx.DIRECTION_SYNONYMS, DIRECTION_FILLERS)
    return None if direction is _FAIL else [("move", (colour, shape, direction))]


def _read_vanish(colour: str, shape: str, rest: list[str]) -> list[Frame] | None:
    return [("vanish", (colour, shape))] if all(t in VANISH_FILLERS for t in rest) else None


def _read_hit(colour: str, shape: str, rest: list[str]) -> list[Frame] | None:
    target = _object(rest, 0)
    if target is None:
        return None
    (t_colour, t_shape), j = target
    hit: Frame = ("hit", (colour, shape, t_colour, t_shape))
    if j == len(rest):
        return [hit]
    # "... hits the blue square with a bang": the collision and its sound in one sentence.
    if rest[j] == "with" and _match(rest, j + 1, BANG) == len(rest):
        return [hit, ("bang", ())]
    return None


def _read_turn(colour: str, shape: str, rest: list[str]) -> list[Frame] | None:
    if rest and rest[0] in lx.COLOUR_SYNONYMS and all(t in ("colour", "color") for t in rest[1:]):
        return [("turn", (colour, shape, lx.COLOUR_SYNONYMS[rest[0]]))]
    return None


def _text_clause(toks: list[str]) -> list[Frame] | None:
    if len(toks) >= 3 and toks[0] in lx.TEXT_NOUNS:
        if toks[1] in ("reads", "says") and len(toks) == 3:  # "the text reads go"
            return [("text", (toks[2],))]
        j = _match(toks, 2, APPEAR)
        if j is not None and all(t in SCREEN_FILLERS for t in toks[j:]):
            return [("text", (toks[1],))]
    if len(toks) >= 3 and toks[0] == "screen" and toks[1] in ("shows", "displays"):
        rest = toks[3:] if toks[2] in lx.TEXT_NOUNS else toks[2:]
        if len(rest) == 1:
            return [("text", (rest[0],))]
    return None


def _say_clause(toks: list[str]) -> list[Frame] | None:
    if not toks or toks[0] not in lx.SPEAKER_NOUNS:
        return None
    j = _match(toks, 1, SAY_VERB)
    if j is None:
        return None
    rest = toks[j + 1:] if toks[j:j + 1] == ["word"] else toks[j:]
    return [("say", (rest[0],))] if len(rest) == 1 else None


def _sound_clause(toks: list[str]) -> list[Frame] | None:
    i = _match(toks, 0, HEAR_LEAD) or 0
    frame: Frame | None = None
    pitch = lx.PITCH_SYNONYMS.get(toks[i]) if i < len(toks) else None
    count = lx.COUNT_SYNONYMS.get(toks[i]) if i < len(toks) else None
    k = i + (1 if pitch or count else 0)
    if k < len(toks) and toks[k] in lx.TONE_NOUNS and count is None:
        frame, k = ("tone", (pitch,)), k + 1
    elif k < len(toks) and toks[k] in lx.BEEP_NOUNS and pitch is None:
        if count is None and toks[k] == "beep":
            count = 1
        frame, k = ("beep", (count,)), k + 1
    elif pitch is None and count is None:
        for kind, table in (("noise", NOISE), ("bang", BANG)):
            j = _match(toks, i, table)
            if j is not None:
                frame, k = (kind, ()), j
                break
    if frame is None:
        return None
    k = _match(toks, k, SOUND_VERB) or k
    for phrase, times in TIMES:  # "a beep sounds twice"
        if frame[0] == "beep" and tuple(toks[k:k + len(phrase)]) == phrase and frame[1][0] in (None, 1):
            frame, k = ("beep", (times,)), k + len(phrase)
            break
    return [frame] if k == len(toks) else None


def _strip_connectives(toks: list[str]) -> list[str]:
    i = 0
    while i < len(toks):
        if toks[i] == ",":
            i += 1
            continue
        j = _match(toks, i, CONNECTIVE)
        if j is None:
            break
        i = j
    return [t for t in toks[i:] if t != "," and t not in lx.IGNORED_WORDS]


def parse_tokens(toks: list[str]) -> list[Frame] | None:
    """Frames of one clause; [] if it holds only connectives; None if it cannot be read."""
    toks = _strip_connectives(toks)
    if not toks:
        return []
    for grammar in (_object_clause, _text_clause, _say_clause, _sound_clause):
        frames = grammar(toks)
        if frames is not None:
            return frames
    return None


def parse_sentence(sentence: str) -> list[Clause]:
    """Clauses of one sentence. A sentence of which no part can be read is one unreadable clause."""
    toks = tokenize(sentence)
    frames = parse_tokens(toks)
    if frames is not None:
        return [Clause(sentence, f) for f in frames]
    pieces, current = [], []
    for t in toks:
        if t in _SEPARATORS:
            pieces.append(current)
            current = []
        else:
            current.append(t)
    pieces.append(current)
    results, subject = [], None
    for piece in pieces:
        frames = parse_tokens(piece)
        if frames is None and subject is not None:
            # Subject ellipsis: "the red circle moves right and hits the blue square".
            frames = parse_tokens(subject + _strip_connectives(piece))
        if frames and frames[0][0] in OBJECT_KINDS:
            kind, values = frames[-1] if frames[-1][0] in OBJECT_KINDS else frames[0]
            # After "turns green" the shape is the green one.
            subject = [values[2], values[1]] if kind == "turn" else list(values[:2])
        results.append((piece, frames))
    if not any(r for _, r in results):
        return [Clause(sentence, None)]
    clauses = []
    for piece, r in results:
        if r is None:
            clauses.append(Clause(" ".join(piece), None))
        else:
            clauses.extend(Clause(" ".join(piece), f) for f in r)
    return clauses


def parse_caption(caption: str) -> list[Clause]:
    """All clauses of a caption, in the caption's order."""
    clauses = []
    for sentence in _SENTENCE_SPLIT.split(caption):
        if sentence.strip():
            clauses.extend(parse_sentence(sentence.strip()))
    return clauses
