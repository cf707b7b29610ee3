"""Multiple-choice questions about a script, with their answers (for QA-by-caption evaluation).

Only questions with exactly one right answer are asked: e.g. "Which word does the voice say?"
only when one word is spoken. Options are shuffled by a generator seeded from the script, so
the items are a pure function of the script.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from avcap.synth import lexicon as lx
from avcap.synth.language import event_sentence
from avcap.synth.world import Event, Script

LETTERS = "ABCD"
NUMBERS = ("one", "two", "three", "four")


def _item(kind: str, question: str, answer: str, distractors: list[str], rng: np.random.Generator,
          shuffle: bool = True) -> dict:
    pool = [d for d in dict.fromkeys(distractors) if d != answer]
    chosen = [pool[i] for i in sorted(rng.permutation(len(pool))[:3])] if len(pool) > 3 else pool
    options = [answer, *chosen]
    if shuffle:
        options = [options[i] for i in rng.permutation(len(options))]
    else:  # numbers read best in their natural order
        options = sorted(options, key=NUMBERS.index)
    return {"type": kind, "question": question, "options": options,
            "answer": LETTERS[options.index(answer)], "answer_text": answer}


def _only(events: list[Event], kind: str) -> Event | None:
    found = [e for e in events if e.kind == kind]
    return found[0] if len(found) == 1 else None


def _candidates(script: Script, rng: np.random.Generator) -> list[dict]:
    events = list(script.events)
    items = []
    appear_keys = Counter((e.args["shape"], e.args["place"]) for e in events if e.kind == "appear")
    for e in events:
        a = e.args
        if e.kind == "appear" and appear_keys[(a["shape"], a["place"])] == 1:
            items.append(_item("colour", f"What colour is the {a['shape']} that appears "
                               f"{lx.PLACE_PHRASES[a['place']]}?", str(a["colour"]), list(lx.COLOURS), rng))
        elif e.kind == "turn":
            items.append(_item("turn", f"What colour does the {a['colour']} {a['shape']} turn?",
                               str(a["new_colour"]), [c for c in lx.COLOURS if c != a["colour"]], rng))
        elif e.kind == "move" and sum(x.kind == "move" and x.args["object"] == a["object"] and
                                      x.args["colour"] == a["colour"] for x in events) == 1:
            items.append(_item("direction", f"Which way does the {a['colour']} {a['shape']} move?",
                               str(a["direction"]), list(lx.DIRECTIONS), rng))
        elif e.kind == "hit" and sum(x.kind == "hit" and x.args["colour"] == a["colour"] and
                                     x.args["shape"] == a["shape"] for x in events) == 1:
            others = [f"the {c} {s}" for c in lx.COLOURS for s in lx.SHAPES
                      if (c, s) != (a["colour"], a["shape"])]
            items.append(_item("hit", f"What does the {a['colour']} {a['shape']} hit?",
                               f"the {a['target_colour']} {a['target_shape']}", others, rng))
    for kind, question, key, pool in (("text", "Which word appears on the screen?", "word", list(lx.WORDS)),
                                      ("say", "Which word does the voice say?", "word", list(lx.WORDS)),
                                      ("tone", "What is the pitch of the tone?", "pitch", list(lx.PITCHES_HZ))):
        e = _only(events, kind)
        if e is not None:
            items.append(_item(kind, question, str(e.args[key]), pool, rng))
    beep = _only(events, "beep")
    if beep is not None:
        items.append(_item("beeps", "How many beeps are heard?", NUMBERS[int(beep.args["count"]) - 1],
                           list(NUMBERS), rng, shuffle=False))
    n_shapes = sum(e.kind == "appear" for e in events)
    if 1 <= n_shapes <= 4:
        items.append(_item("count", "How many shapes appear in the video?", NUMBERS[n_shapes - 1],
                           list(NUMBERS), rng, shuffle=False))
    items.extend(_order_items(events, rng))
    return items


def _order_items(events: list[Event], rng: np.random.Generator) -> list[dict]:
    """"Which happens first?" between two events told by unique sentences, at different times."""
    told = Counter(event_sentence(e) for e in events)
    unique = [e for e in events if told[event_sentence(e)] == 1]
    pairs = [(a, b) for i, a in enumerate(unique) for b in unique[i + 1:] if a.frame < b.frame]
    if not pairs:
        return []
    first, later = (event_sentence(e)[:-1] for e in pairs[int(rng.integers(len(pairs)))])
    return [_item("order", "Which happens first?", first, [later], rng)]


def qa_items(script: Script, n: int = 3) -> list[dict]:
    """Up to ``n`` questions of different types: ``{type, question, options, answer (letter), answer_text}``."""
    rng = np.random.default_rng([*script.seed, 11])
    by_type: dict[str, list[dict]] = {}
    for item in _candidates(script, rng):
        by_type.setdefault(item["type"], []).append(item)
    types = sorted(by_type)
    picked = [types[k] for k in sorted(rng.permutation(len(types))[:n])]
    return [by_type[t][int(rng.integers(len(by_type[t])))] for t in picked]
