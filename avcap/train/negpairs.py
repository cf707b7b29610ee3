"""Preference pairs from Tarsier2 candidates: eq. 1's filter, the ablations, the pair statistics.

Pure functions of the rows of a ``pairs.jsonl`` written by ``avcap pairs negatives``
(:mod:`avcap.train.negatives`). A candidate pair is (y, ỹ) -- the clean clip's caption over the
corrupted clip's -- or, for the paper's "w/o negative sampling" ablation, (y, y') with y' a second
caption of the clean clip ("we kept other parameters and process unchanged but replaced the
negative sampling with an additional positive sampling", Appendix D: y stays the chosen one and
the same filter applies). "w/o preference filtering" keeps every candidate. A caption that is
empty is no answer to train on: such a candidate never becomes a pair, filter or not.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from avcap.errors import DataError
from avcap.metrics.autodq import TARSIER2_DELTA, autodq_deltas, f1, keep_preference_pair

SETTINGS = {"negative": "corrupted", "second": "clean_2"}  # stats key -> the rejected candidate
RESERVED = ("candidates", "autodq", "corruption", "filter", "model", "judge", "error", "stage")


@dataclass(frozen=True)
class Candidate:
    row: dict
    rejected: str  # "corrupted" or "clean_2"
    kind: str  # the corruption kind, or "second_sample"
    delta_p: float
    delta_r: float
    passes: bool  # eq. 1 holds
    empty: bool  # a caption of the pair is empty


def candidates(rows: Sequence[dict], rejected: str = "corrupted", delta: float = TARSIER2_DELTA) -> list[Candidate]:
    """Every scored row as a candidate pair (y, ``rejected``), with its ΔP, ΔR and eq. 1's verdict."""
    out = []
    for row in rows:
        where = f"pairs row '{row.get('id')}'"
        caps, scores = row.get("candidates"), row.get("autodq")
        if not isinstance(caps, dict) or not isinstance(scores, dict) or "clean" not in caps:
            raise DataError(f"{where}: not a row of `avcap pairs negatives` (no 'candidates' / 'autodq')")
        if rejected not in caps or rejected not in scores:
            hint = " (sample with --second-sample for the w/o negative sampling ablation)" if rejected == "clean_2" else ""
            raise DataError(f"{where}: has no '{rejected}' caption{hint}")
        chosen, other = scores["clean"], scores[rejected]
        dp, dr = autodq_deltas((chosen["precision"], chosen["recall"]), (other["precision"], other["recall"]))
        kind = (row.get("corruption") or {}).get("kind", "?") if rejected == "corrupted" else "second_sample"
        empty = not str(caps["clean"]).strip() or not str(caps[rejected]).strip()
        out.append(Candidate(row, rejected, kind, dp, dr, keep_preference_pair(dp, dr, delta), empty))
    return out


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _summary(cands: list[Candidate]) -> dict:
    kept = [c for c in cands if c.passes and not c.empty]
    return {"candidates": len(cands), "kept": len(kept), "yield": len(kept) / len(cands) if cands else 0.0,
            "empty": sum(c.empty for c in cands),
            "mean_delta_p": _mean([c.delta_p for c in cands]), "mean_delta_r": _mean([c.delta_r for c in cands]),
            "kept_mean_delta_p": _mean([c.delta_p for c in kept]),
            "kept_mean_delta_r": _mean([c.delta_r for c in kept])}


def pair_statistics(rows: Sequence[dict], delta: float = TARSIER2_DELTA) -> dict:
    """Kept pairs per corruption kind, mean ΔP / ΔR, and the candidates' mean AutoDQ scores.

    ``negative``: (y, ỹ) pairs, also ``per_kind``; ``second``: (y, y') pairs when the rows have y'.
    """
    stats: dict = {"delta": delta, "scored": len(rows), "mean_autodq": {}}
    for name in ("clean", "corrupted", "clean_2"):
        scored = [row["autodq"][name] for row in rows if name in (row.get("autodq") or {})]
        if scored:
            p, r = _mean([s["precision"] for s in scored]), _mean([s["recall"] for s in scored])
            stats["mean_autodq"][name] = {"precision": p, "recall": r, "f1": f1(p, r), "n": len(scored)}
    if not rows:
        return stats
    for key, rejected in SETTINGS.items():
        if key == "second" and not all("clean_2" in (row.get("candidates") or {}) for row in rows):
            continue
        cands = candidates(rows, rejected, delta)
        stats[key] = _summary(cands)
        if key == "negative":
            kinds = sorted({c.kind for c in cands})
            stats[key]["per_kind"] = {k: _summary([c for c in cands if c.kind == k]) for k in kinds}
    return stats


def preference_row(c: Candidate) -> dict:
    """The dataset row + ``chosen`` / ``rejected`` + ``scores``: a row ``avcap train dpo`` reads too."""
    row = c.row
    caps, scores = row["candidates"], row["autodq"]
    raw = {k: v for k, v in row.items() if k not in RESERVED and k not in ("chosen", "rejected", "scores")}
    return {**raw, "chosen": caps["clean"], "rejected": caps[c.rejected],
            "scores": {"chosen": scores["clean"], "rejected": scores[c.rejected], "delta_p": c.delta_p,
                       "delta_r": c.delta_r, "rejected_from": c.rejected, "kind": c.kind,
                       "corruption": row.get("corruption") if c.rejected == "corrupted" else None}}


def select_pairs(rows: Sequence[dict], *, negative_sampling: bool = True, use_filter: bool = True,
                 delta: float = TARSIER2_DELTA, num_pairs: int = 0, seed: int = 0) -> tuple[list[dict], dict]:
    """The training pairs of one setting (full / w/o NS / w/o PF) and what was selected.

    ``num_pairs`` > 0 draws that many pairs at random (seeded) from the eligible ones, as the
    paper draws 20K for each setting so all train on the same amount; fewer eligible pairs than
    asked is recorded (``short_by``), not hidden.
    """
    rejected = "corrupted" if negative_sampling else "clean_2"
    cands = candidates(rows, rejected, delta)
    eligible = [c for c in cands if not c.empty and (c.passes or not use_filter)]
    chosen = eligible
    if num_pairs > 0 and len(eligible) > num_pairs:
        chosen = sorted(random.Random(seed).sample(eligible, num_pairs), key=eligible.index)
    info = {"setting": _setting_name(negative_sampling, use_filter), "rejected_from": rejected,
            "filter": use_filter, "delta": delta, "candidates": len(cands), "eligible": len(eligible),
            "requested": num_pairs or None, "pairs": len(chosen),
            "short_by": max(0, num_pairs - len(eligible)) if num_pairs > 0 else 0,
            "per_kind": {k: sum(c.kind == k for c in chosen) for k in sorted({c.kind for c in chosen})},
            "mean_delta_p": _mean([c.delta_p for c in chosen]), "mean_delta_r": _mean([c.delta_r for c in chosen])}
    return [preference_row(c) for c in chosen], info


def _setting_name(negative_sampling: bool, use_filter: bool) -> str:
    if negative_sampling and use_filter:
        return "full"
    parts = ([] if negative_sampling else ["w/o NS"]) + ([] if use_filter else ["w/o PF"])
    return ", ".join(parts)
