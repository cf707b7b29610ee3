"""Caption text as a protocol prepares it for the judge."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")


def _norm(token: str) -> str:
    return token.lower()


def collapse_repeats(text: str, max_period: int = 64, max_passes: int = 8) -> str:
    """Collapse back-to-back copies of a word or a phrase of up to ``max_period`` words to one copy.

    The video-SALMONN 2 protocol does this for captions that did not end cleanly: a model
    stuck in a loop ("... the man walks. the man walks. the man walks.") until its token limit
    would otherwise be charged once per copy. Words are whitespace-separated and compared
    case-insensitively, punctuation included; the first copy's spelling is kept. The scan
    takes the shortest repeating unit at each position and repeats until nothing changes, so
    nested loops collapse too.

    >>> collapse_repeats("A dog barks. A dog barks. A dog barks. Then it sleeps.")
    'A dog barks. Then it sleeps.'
    >>> collapse_repeats("no no no no")
    'no'
    >>> collapse_repeats("A man walks in. He sits down.")
    'A man walks in. He sits down.'
    """
    words = _WORD.findall(text)
    for _ in range(max_passes):
        keys = [_norm(w) for w in words]
        out: list[str] = []
        i, changed = 0, False
        while i < len(words):
            step = 0
            for p in range(1, min(max_period, (len(words) - i) // 2) + 1):
                if keys[i] == keys[i + p] and keys[i:i + p] == keys[i + p:i + 2 * p]:
                    step = p
                    break
            if not step:
                out.append(words[i])
                i += 1
                continue
            out.extend(words[i:i + step])
            j = i + step
            while keys[j:j + step] == keys[i:i + step] and j + step <= len(words):
                j += step
            i, changed = j, True
        words = out
        if not changed:
            break
    return " ".join(words)
