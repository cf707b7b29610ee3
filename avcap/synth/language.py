"""Ground-truth language of the synthetic world: one short sentence per atomic event, joined in time order.

The grammar is deliberately tiny (see :func:`caption_vocabulary`) because these captions are
the training targets of a nano captioner trained on CPU; the symbolic judge (``parse``,
``symbolic``) reads exactly this grammar back, plus the paraphrases :func:`paraphrase_caption`
draws from the synonym tables in ``lexicon``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np

from avcap.synth import lexicon as lx
from avcap.synth.world import Event, Script

DEFAULT_PROMPT = "Describe the video in detail."
NEXT_CONNECTIVES = ("Then", "Next", "After that")
SAME_TIME_CONNECTIVE = "At the same time"
LAST_CONNECTIVE = "Finally"


def _obj(args, prefix: str = "") -> str:
    return f"{args[prefix + 'colour']} {args[prefix + 'shape']}"


def event_sentence(event: Event) -> str:
    """The canonical sentence of one atomic event (capitalised, with a full stop)."""
    a, k = event.args, event.kind
    if k == "appear":
        return f"A {_obj(a)} appears {lx.PLACE_PHRASES[a['place']]}."
    if k == "move":
        return f"The {_obj(a)} moves {a['direction']}."
    if k == "hit":
        return f"The {_obj(a)} hits the {_obj(a, 'target_')}."
    if k == "turn":
        return f"The {_obj(a)} turns {a['new_colour']}."
    if k == "vanish":
        return f"The {_obj(a)} disappears."
    if k == "text":
        return f"The word {str(a['word']).upper()} appears on the screen."
    if k == "tone":
        return f"A {a['pitch']} tone plays."
    if k == "beep":
        count = int(a["count"])
        return "A beep sounds." if count == 1 else f"{lx.COUNT_WORDS[count].capitalize()} beeps sound."
    if k == "noise":
        return "A burst of noise plays."
    if k == "bang":
        return "A bang sounds."
    if k == "say":
        return f"A voice says {a['word']}."
    raise ValueError(f"unknown event kind {k!r}")


def atomic_events(script: Script) -> list[str]:
    """The ``events`` field of a dataset row: one canonical sentence per event, in time order."""
    return [event_sentence(e) for e in script.events]


def _lower_first(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:]


def join_sentences(sentences: Sequence[str], frames: Sequence[int], rng: np.random.Generator,
                   next_connectives: Sequence[str] = NEXT_CONNECTIVES,
                   same_time: Sequence[str] = (SAME_TIME_CONNECTIVE,),
                   last: Sequence[str] = (LAST_CONNECTIVE,)) -> str:
    """Join event sentences with connectives that say how each follows the previous one."""
    parts = []
    for i, (sentence, frame) in enumerate(zip(sentences, frames)):
        if i == 0:
            parts.append(sentence)
            continue
        if frame == frames[i - 1]:
            word = same_time[int(rng.integers(len(same_time)))]
        elif i == len(sentences) - 1 and len(sentences) >= 3:
            word = last[int(rng.integers(len(last)))]
        else:
            word = next_connectives[int(rng.integers(len(next_connectives)))]
        parts.append(f"{word}, {_lower_first(sentence)}")
    return " ".join(parts)


def caption_from_script(script: Script) -> str:
    """The ground-truth caption: every event once, in time order, linked by connectives.

    Connectives are drawn from a generator seeded by the script's seed, so the caption is a pure
    function of the script.
    """
    rng = np.random.default_rng([*script.seed, 7])
    events = script.events
    return join_sentences([event_sentence(e) for e in events], [e.frame for e in events], rng)


# --- paraphrases (within the parser's grammar) -------------------------------------------------

_SHAPE_ALT = {"circle": ("circle", "ball", "disc"), "square": ("square", "box"), "triangle": ("triangle",),
              "diamond": ("diamond", "rhombus")}
_COLOUR_ALT = {c: (c,) for c in lx.COLOURS} | {"purple": ("purple", "violet")}
_PLACE_ALT = {"left": ("on the left", "on the left side", "at the left"),
              "right": ("on the right", "on the right side", "at the right"),
              "top": ("at the top", "near the top"), "bottom": ("at the bottom", "near the bottom"),
              "middle": ("in the middle", "in the center", "in the centre")}
_DIR_ALT = {"left": ("left", "to the left", "leftward"), "right": ("right", "to the right", "rightwards"),
            "up": ("up", "upward", "upwards"), "down": ("down", "downward", "downwards")}
_PITCH_ALT = {"low": ("low", "deep", "low-pitched"), "medium": ("medium", "middle", "mid-pitched"),
              "high": ("high", "high-pitched")}


def _paraphrase_event(event: Event, rng: np.random.Generator) -> str:
    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    a, k = event.args, event.kind

    def obj(prefix: str = "") -> str:
        return f"{pick(_COLOUR_ALT[a[prefix + 'colour']])} {pick(_SHAPE_ALT[a[prefix + 'shape']])}"

    if k == "appear":
        return f"A {obj()} {pick(('appears', 'shows up', 'pops up'))} {pick(_PLACE_ALT[a['place']])}."
    if k == "move":
        return f"The {obj()} {pick(('moves', 'slides', 'glides'))} {pick(_DIR_ALT[a['direction']])}."
    if k == "hit":
        return f"The {obj()} {pick(('hits', 'bumps into', 'collides with', 'crashes into'))} the {obj('target_')}."
    if k == "turn":
        return f"The {obj()} {pick(('turns', 'becomes', 'changes to', 'turns into'))} {a['new_colour']}."
    if k == "vanish":
        return f"The {obj()} {pick(('disappears', 'vanishes', 'fades away', 'goes away'))}."
    if k == "text":
        return pick((f"The word {str(a['word']).upper()} is shown on the screen.",
                     f"The text {a['word']} appears.", f"The word \"{a['word']}\" shows up on screen."))
    if k == "tone":
        return f"A {pick(_PITCH_ALT[a['pitch']])} {pick(('tone', 'note'))} {pick(('plays', 'is heard', 'sounds'))}."
    if k == "beep":
        n = int(a["count"])
        told = ("A single beep is heard.", "One beep plays.") if n == 1 else (
            f"{lx.COUNT_WORDS[n].capitalize()} beeps are heard.", f"There are {lx.COUNT_WORDS[n]} beeps.")
        return pick((*told, "A beep sounds " + {1: "once", 2: "twice", 3: "three times"}[n] + "."))
    if k == "noise":
        return pick(("A burst of static plays.", "A hiss is heard.", "There is a burst of noise.",
                     "A noise burst plays."))
    if k == "bang":
        return pick(("A loud bang is heard.", "There is a thud.", "A crash sounds."))
    if k == "say":
        return pick((f"Someone says the word {a['word']}.", f"A voice says \"{a['word']}\".",
                     f"A man says {a['word']}."))
    raise ValueError(f"unknown event kind {k!r}")


def paraphrase_caption(script: Script, rng: np.random.Generator) -> str:
    """A caption that says exactly what the ground truth says in other words.

    Synonyms, other connectives, events on the same frame swapped, and a hit merged with its
    bang ("... with a bang"). The symbolic judge must score it as perfect; it also serves as
    varied phrasing for experiments.
    """
    events = list(script.events)
    groups = [list(g) for _, g in itertools.groupby(events, key=lambda e: e.frame)]
    sentences, frames = [], []
    for group in groups:
        if len(group) == 2 and [e.kind for e in group] == ["hit", "bang"] and rng.random() < 0.5:
            sentences.append(_paraphrase_event(group[0], rng)[:-1] + " with a bang.")
            frames.append(group[0].frame)
            continue
        if len(group) > 1 and rng.random() < 0.5:
            group = group[::-1]  # same-frame events may be told in either order
        for e in group:
            sentences.append(_paraphrase_event(e, rng))
            frames.append(e.frame)
    return join_sentences(sentences, frames, rng, next_connectives=("Then", "Next", "After that", "Later",
                                                                     "Afterwards"),
                          same_time=("At the same time", "Simultaneously", "Meanwhile"),
                          last=("Finally", "Lastly", "Then"))


# --- vocabulary ---------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[A-Za-z]+")


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text)]


def _all_canonical_events() -> list[Event]:
    objs = [{"colour": c, "shape": s} for c in lx.COLOURS for s in lx.SHAPES]
    events = [Event("appear", 0, {**o, "place": p}) for o in objs for p in lx.PLACES]
    events += [Event("move", 0, {**o, "direction": d}) for o in objs for d in lx.DIRECTIONS]
    events += [Event("hit", 0, {**o, "target_colour": "red", "target_shape": "circle"}) for o in objs]
    events += [Event("turn", 0, {**o, "new_colour": c}) for o in objs for c in lx.COLOURS]
    events += [Event("vanish", 0, o) for o in objs]
    events += [Event(k, 0, {"word": w}) for k in ("text", "say") for w in lx.WORDS]
    events += [Event("tone", 0, {"pitch": p}) for p in lx.PITCHES_HZ]
    events += [Event("beep", 0, {"count": n}) for n in lx.COUNT_WORDS]
    events += [Event("noise", 0, {}), Event("bang", 0, {})]
    return events


def caption_sentences() -> list[str]:
    """Every canonical event sentence as written (capitals kept) and the connectives between them."""
    return [event_sentence(event) for event in _all_canonical_events()] + [
        *NEXT_CONNECTIVES, SAME_TIME_CONNECTIVE, LAST_CONNECTIVE]


def caption_vocabulary() -> list[str]:
    """Every word (lower-cased) a ground-truth caption can contain, sorted."""
    words = set()
    for event in _all_canonical_events():
        words.update(words_of(event_sentence(event)))
    for connective in (*NEXT_CONNECTIVES, SAME_TIME_CONNECTIVE, LAST_CONNECTIVE):
        words.update(words_of(connective))
    return sorted(words)
