"""Turn a judge's reply into a JSON value, repairing the usual slips before giving up.

LLM judges wrap JSON in code fences, add prose around it, leave trailing commas, answer
in Python-literal style (the AVoCaDO prompts even ask for "Python List Format"), or put a
``<think>`` block first (Qwen3). Each repair here is cheap and cannot invent content: a
reply that is cut off or otherwise broken still fails, and the caller re-asks.
No library covers this mix (``json`` is strict; ``ast.literal_eval`` only covers Python
literals), hence this small scanner.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from avcap.judge.types import AnswerError, one_line

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_MAX_CANDIDATES = 64


def repair_json(text: str) -> Any:
    """Parse ``text`` as JSON after repairs; raise ``AnswerError`` (one line) if that fails."""
    if text is None or not str(text).strip():
        raise AnswerError("empty answer")
    text = _THINK.sub("", str(text)).strip()
    first_error = None
    for source in _sources(text):
        try:
            return _parse_strict_or_literal(source)
        except ValueError as err:
            first_error = first_error or err
        for span in _balanced_spans(source):
            for variant in (span, _drop_trailing_commas(span)):
                try:
                    return _parse_strict_or_literal(variant)
                except ValueError as err:
                    first_error = first_error or err
            fixed = _drop_trailing_commas(span.translate(_SMART_QUOTES))
            try:
                return _parse_strict_or_literal(fixed)
            except ValueError:
                pass
    raise AnswerError(f"no JSON value found in the answer ({one_line(str(first_error), 120)}): {one_line(text, 160)!r}")


def _sources(text: str) -> list[str]:
    """The whole text, then the inside of each code fence (a fenced block is the likely answer)."""
    fenced = [m.group(1).strip() for m in _FENCE.finditer(text)]
    return fenced + [text] if fenced else [text]


def _parse_strict_or_literal(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            raise ValueError(f"{err.msg} at char {err.pos}") from None
    if not isinstance(value, (dict, list)):  # every avcap prompt asks for an object (or a list)
        raise ValueError(f"a bare {type(value).__name__}, not an object or a list")
    return value


def _balanced_spans(text: str):
    """Yield each substring that starts at ``{`` or ``[`` and ends at its matching bracket."""
    count = 0
    for start, ch in enumerate(text):
        if ch not in "{[":
            continue
        end = _matching_end(text, start)
        if end is not None:
            yield text[start : end + 1]
            count += 1
            if count >= _MAX_CANDIDATES:
                return


def _matching_end(text: str, start: int) -> int | None:
    depth = 0
    quote = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            # An apostrophe between letters (it's) is not a Python string opener.
            if ch == "'" and 0 < i < len(text) - 1 and text[i - 1].isalpha() and text[i + 1].isalpha():
                continue
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
    return None


def _drop_trailing_commas(text: str) -> str:
    """Remove commas that directly precede ``}`` or ``]`` outside strings."""
    out = []
    quote = None
    escaped = False
    n = len(text)
    for i, ch in enumerate(text):
        if quote:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch == '"':
            quote = ch
        elif ch == ",":
            j = i + 1
            while j < n and text[j].isspace():
                j += 1
            if j < n and text[j] in "}]":
                continue
        out.append(ch)
    return "".join(out)
