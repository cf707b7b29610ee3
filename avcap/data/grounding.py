"""Frame-grounded captions: Tarsier2's ``<frame: i-j>`` tags (paper §3.2, Fig. 4).

Tarsier2's first SFT stage annotates every event with the frames it is seen in: "<frame: 1-3>
A woman ... <frame: 4-13> The camera then shifts ...". A tag names the sampled frames, counted
from 1, that the text after it (up to the next tag) is inferred from; ``<frame: i>`` is one
frame. Such captions train like any other text; these functions validate the tags (so a typo
or an index past the clip's frames is a clear error instead of silent noise), split a caption
into its grounded segments, and strip the tags for metrics that compare events only (AutoDQ,
the event judges).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from avcap.errors import DataError

# Whitespace is allowed inside the brackets: the paper itself writes both "<frame: i-j>" and "< frame: i-j >".
FRAME_TAG = re.compile(r"<\s*frame\s*:\s*(\d+)\s*(?:-\s*(\d+)\s*)?>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<\s*frames?\b[^<>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class GroundedSegment:
    """Text and the 1-based frames ``first..last`` it is grounded in (both None before any tag)."""

    first: int | None
    last: int | None
    text: str


def has_frame_tags(text: str) -> bool:
    return _ANY_TAG.search(text) is not None


def parse_grounded(text: str, n_frames: int | None = None) -> list[GroundedSegment]:
    """Split ``text`` at its frame tags; raise DataError for a malformed tag or a bad span.

    ``n_frames``: the clip's sampled frame count, when known; a tag past it is an error.

    >>> parse_grounded("<frame: 1-3> A door opens. <frame: 4> A man enters.")
    [GroundedSegment(first=1, last=3, text='A door opens.'), GroundedSegment(first=4, last=4, text='A man enters.')]
    """
    segments: list[GroundedSegment] = []
    for bad in _ANY_TAG.finditer(text):
        if not FRAME_TAG.fullmatch(bad.group(0)):
            raise DataError(f"malformed frame tag {bad.group(0)!r} (expected <frame: i-j> or <frame: i>)")
    position, span = 0, (None, None)
    for tag in FRAME_TAG.finditer(text):
        before = text[position:tag.start()].strip()
        if before or span != (None, None):
            segments.append(GroundedSegment(span[0], span[1], before))
        first = int(tag.group(1))
        last = int(tag.group(2)) if tag.group(2) is not None else first
        if first < 1 or last < first:
            raise DataError(f"frame tag {tag.group(0)!r}: frames are numbered from 1 and i <= j")
        if n_frames is not None and last > n_frames:
            raise DataError(f"frame tag {tag.group(0)!r}: the clip has {n_frames} frames")
        span, position = (first, last), tag.end()
    rest = text[position:].strip()
    if rest or span != (None, None):
        segments.append(GroundedSegment(span[0], span[1], rest))
    return segments


def check_frame_tags(text: str, n_frames: int | None = None) -> None:
    """Raise DataError when ``text`` has a malformed tag or one that does not fit ``n_frames``."""
    if has_frame_tags(text):
        parse_grounded(text, n_frames)


def strip_frame_tags(text: str) -> str:
    """The caption without its frame tags, whitespace tidied.

    >>> strip_frame_tags("<frame: 1-3> A door opens. <frame: 4-9> A man enters.")
    'A door opens. A man enters.'
    """
    if not has_frame_tags(text):
        return text
    return " ".join(_ANY_TAG.sub(" ", text).split())
