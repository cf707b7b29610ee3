"""The parts of a dataset row the official releases' files use: turns, preference roles, row options.

Conversation roles (``from``, or ``role`` as the 2+ loader also reads)::

    human / user          the prompt (first such turn)
    gpt / assistant       the answer; in DPO rows of the *first* release it is the chosen answer
    chosen, reject        2+ DPO rows (scripts/example_dpo.json): the gpt turn is the ground truth
    reject_gpt, gt        first-release DPO rows: rejected answer and ground truth
    system                ignored

Row options: ``use_audio`` (false: visual only), ``timestamps`` ([start, end] seconds: the row is
that segment of the video), ``prefix`` (text the answer starts with; the first release reads it
from the last turn, its demo config from the row), ``image`` (a still image instead of a video).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from avcap.errors import DataError

HUMAN_ROLES = {"human", "user"}
MODEL_ROLES = {"gpt", "assistant"}
PLUS_DPO_ROLES = {"chosen", "reject"}  # video-SALMONN 2+
V1_DPO_ROLES = {"reject_gpt", "gt"}  # first release
KNOWN_ROLES = HUMAN_ROLES | MODEL_ROLES | PLUS_DPO_ROLES | V1_DPO_ROLES | {"system"}


@dataclass
class Turns:
    prompt: str | None  # raw first human turn (placeholders still in)
    reference: str | None  # the ground-truth answer
    chosen: str | None
    rejected: str | None
    prefix: str | None  # a ``prefix`` on the last turn


def read_turns(conversations: object, where: str) -> Turns:
    """Prompt, ground truth and preference pair of a row's ``conversations`` (see the module docstring)."""
    if not isinstance(conversations, list):
        raise DataError(f"{where}: 'conversations' must be a list of turns")
    first: dict[str, str] = {}
    prefix = None
    for index, turn in enumerate(conversations):
        if not isinstance(turn, dict):
            raise DataError(f"{where}: conversations[{index}] needs 'from' and a string 'value'")
        role, value = turn.get("from", turn.get("role")), turn.get("value", turn.get("content"))
        if role is None or not isinstance(value, str):
            raise DataError(f"{where}: conversations[{index}] needs 'from' and a string 'value'")
        role = str(role).lower()
        if role not in KNOWN_ROLES:
            raise DataError(f"{where}: conversations[{index}] has unknown role '{turn.get('from', turn.get('role'))}' "
                            f"(known: {', '.join(sorted(KNOWN_ROLES))})")
        kind = "human" if role in HUMAN_ROLES else "gpt" if role in MODEL_ROLES else role
        first.setdefault(kind, value)
        if index == len(conversations) - 1 and turn.get("prefix") is not None:
            prefix = _string(turn["prefix"], f"conversations[{index}].prefix", where)
    if first.keys() & PLUS_DPO_ROLES and first.keys() & V1_DPO_ROLES:
        raise DataError(f"{where}: a row mixes the 2+ roles (chosen/reject) with the first release's (gt/reject_gpt)")
    answer = first.get("gpt")
    if first.keys() & V1_DPO_ROLES:  # first release: gpt = chosen, reject_gpt = rejected, gt = ground truth
        reference, chosen, rejected = first.get("gt"), answer, first.get("reject_gpt")
    else:
        reference, chosen, rejected = answer, first.get("chosen"), first.get("reject")
    return Turns(prompt=first.get("human"), reference=_strip(reference), chosen=_strip(chosen),
                 rejected=_strip(rejected), prefix=prefix)


@dataclass
class RowOptions:
    use_audio: bool = True
    timestamps: tuple[float, float] | None = None
    prefix: str | None = None


def read_options(obj: dict, where: str) -> RowOptions:
    """``use_audio``, ``timestamps`` and ``prefix`` of a row, validated (absent: audio on, whole video)."""
    use_audio = obj.get("use_audio", True)
    if not isinstance(use_audio, bool):
        raise DataError(f"{where}: 'use_audio' must be true or false, got {use_audio!r}")
    stamps = obj.get("timestamps")
    if stamps is not None:
        if (not isinstance(stamps, (list, tuple)) or len(stamps) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in stamps)):
            raise DataError(f"{where}: 'timestamps' must be [start, end] in seconds, got {stamps!r}")
        start, end = float(stamps[0]), float(stamps[1])
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise DataError(f"{where}: 'timestamps' must have 0 <= start < end, got {stamps!r}")
        stamps = (start, end)
    prefix = obj.get("prefix")
    if prefix is not None:
        prefix = _string(prefix, "prefix", where)
    return RowOptions(use_audio=use_audio, timestamps=stamps, prefix=prefix or None)


def preference_pair(obj: dict, turns: Turns, where: str) -> tuple[str | None, str | None]:
    """(chosen, rejected): avcap's top-level fields or the official roles, not both."""
    top = obj.get("chosen"), obj.get("rejected")
    if all(v is None for v in top):
        return turns.chosen, turns.rejected
    if turns.chosen is not None or turns.rejected is not None:
        raise DataError(f"{where}: give the pair as 'chosen'/'rejected' fields or as conversation roles, not both")
    return tuple(None if v is None else _string(v, k, where).strip() or None for k, v in zip(("chosen", "rejected"), top))


def _string(value: object, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: '{name}' must be a string, got {type(value).__name__}")
    return value


def _strip(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None
