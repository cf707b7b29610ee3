"""Does a captioner listen? Per-event-kind recall of one set of videos captioned with sound and muted.

``avcap demo`` and the nano training report (:mod:`avcap.train.nano_report`) both show it: the
same synthetic videos captioned twice, once with their sound and once with it replaced by silence
(``mute_audio``), each caption judged against the video's exact script
(:mod:`avcap.synth.recall`). A model that uses its sound recalls sound events far better with
sound than muted; the muted column is the chance line (what the picture and the text prior alone
recall), and the visual rows show the contrast (muting should not change them much).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from avcap.eval.captions import load_captions
from avcap.synth.recall import attribute_chance, pooled_recall, recall_dict

CONDITIONS = ("with_sound", "muted")


def captions_recall(rows: Sequence[Mapping], captions_path: str | Path) -> dict:
    """Recall per kind of the captions in ``captions_path`` for ``rows`` (dataset rows with ``id`` and
    ``script``); rows with no caption or a failed one are counted in ``failed`` and left out."""
    found = load_captions(captions_path)
    pairs, failed = [], 0
    for row in rows:
        caption = found.rows.get(str(row["id"]))
        if caption is None or caption.error or caption.caption is None:
            failed += 1
            continue
        pairs.append((row["script"], caption.caption))
    return {"videos": len(pairs), "failed": failed, "recall": recall_dict(pooled_recall(pairs))}


def listen_summary(rows: Sequence[Mapping], with_sound: str | Path, muted: str | Path) -> dict:
    """Recall with sound and muted for the same ``rows``, and the attribute-chance line of their sounds."""
    return {"with_sound": captions_recall(rows, with_sound), "muted": captions_recall(rows, muted),
            "attribute_chance": attribute_chance(row["script"] for row in rows)}


def recall_of(summary: Mapping, condition: str, group: str) -> float | None:
    return summary[condition]["recall"][group]["recall"]


__all__ = ["CONDITIONS", "captions_recall", "listen_summary", "recall_of"]
