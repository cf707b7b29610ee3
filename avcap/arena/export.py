"""Votes and leaderboards out: CSV / JSON, and decisive votes as DPO preference rows.

Preference rows follow DESIGN.md (the dataset row plus ``chosen``, ``rejected`` and a
``scores`` object saying why), so ``avcap train dpo --data pairs.jsonl`` reads them. All votes
of the ranked voters on one (video, model pair) are pooled: the pair becomes a row when one
side leads by at least ``min_margin`` decisive votes; ties and "both bad" never make a row.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from avcap.arena.votes import Vote
from avcap.data import DatasetRow

VOTE_FIELDS = ("id", "voter", "time", "video", "video_path", "kind", "model_left", "model_right", "answer",
               "caption_left", "caption_right")


def votes_csv(records: Sequence[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=VOTE_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue()


def leaderboard_csv(board: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "votes", "wins", "losses", "ties", "both_bad", "win_rate", "mean_words",
                     "bt", "bt_low", "bt_high", "bt_rank", "bt_lc", "bt_lc_low", "bt_lc_high", "bt_lc_rank",
                     "elo", "elo_low", "elo_high", "total", "miss", "hall"])
    for r in board["models"]:
        m = r["metrics"] or {}
        writer.writerow([r["model"], r["votes"], r["wins"], r["losses"], r["ties"], r["both_bad"],
                         f"{r['win_rate']:.4f}", f"{r['mean_words']:.1f}",
                         *(f"{r[key][f]:.1f}" for key in ("bt",) for f in ("rating", "low", "high")), r["bt"]["rank"],
                         *(f"{r['bt_length_controlled'][f]:.1f}" for f in ("rating", "low", "high")),
                         r["bt_length_controlled"]["rank"],
                         *(f"{r['elo'][f]:.1f}" for f in ("rating", "low", "high")),
                         *(("" if k not in m else f"{m[k]:.4f}") for k in ("total", "miss", "hall"))])
    return buf.getvalue()


def _media(path: str | None, out_dir: Path | None) -> str | None:
    """Relative to the output's folder when inside it (the training readers confine media to
    the dataset file's folder by default), else absolute."""
    if path is None or out_dir is None:
        return path
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(out_dir))
    return real.relative_to(base).as_posix() if real.is_relative_to(base) else str(real)


def preference_rows(votes: Sequence[Vote], video_paths: dict[str, str], videos_root: Path,
                    rows: dict[str, DatasetRow] | None = None, min_margin: int = 1,
                    out_dir: Path | None = None) -> list[dict]:
    """One preference row per (video, model pair) whose decisive votes lead by ``min_margin``.

    ``votes`` are the ranked votes (gold and excluded voters already removed); ``video_paths``
    maps item id to its media path under ``videos_root``. With dataset ``rows``, each row
    carries the dataset row's fields (prompt, ground truth for gDPO, events). Media paths are
    written relative to ``out_dir`` (the output file's folder) when they lie inside it, else
    absolute.
    """
    if min_margin < 1:
        raise ValueError(f"min_margin must be >= 1, got {min_margin}")
    tally: dict[tuple[str, str, str], dict] = {}
    for v in votes:
        lo, hi = sorted((v.model_left, v.model_right))
        t = tally.setdefault((v.video, lo, hi), {lo: 0, hi: 0, "ties": 0, "text": {}})
        t["text"][v.model_left], t["text"][v.model_right] = v.caption_left, v.caption_right  # latest wins
        if v.winner is None:
            t["ties"] += 1
        else:
            t[v.winner] += 1
    out = []
    for (video, lo, hi), t in tally.items():
        if abs(t[lo] - t[hi]) < min_margin:
            continue
        chosen, rejected = (lo, hi) if t[lo] > t[hi] else (hi, lo)
        row = rows.get(video) if rows else None
        if row is not None:
            base = {k: val for k, val in row.raw.items() if k not in ("chosen", "rejected", "scores")}
            base.update(video=_media(row.video, out_dir), audio=_media(row.audio, out_dir))
            if base["audio"] is None:
                base.pop("audio")
            if base["video"] is None:
                base.pop("video")
        else:
            base = {"video": _media(str(videos_root / video_paths[video]), out_dir)}
        out.append({**base, "id": f"{video}:{chosen}>{rejected}", "source_id": video,
                    "chosen": t["text"][chosen], "rejected": t["text"][rejected],
                    "scores": {"arena": {"chosen_model": chosen, "rejected_model": rejected,
                                         "votes_chosen": t[chosen], "votes_rejected": t[rejected],
                                         "ties": t["ties"]}}})
    return out
