"""The caption rows' modality audit in an evaluation: a per-set count and ``--audit-filter``.

A score over captions of videos the model never heard is not a score of audio-visual captioning;
the filter keeps the items whose (first) caption row passes, so a report can be restricted to
what the model really received. Rows written before the audit existed carry none: they match no
filter (reported as ``unaudited``)."""

from __future__ import annotations

import dataclasses

from avcap.errors import ConfigError

# name -> (what it keeps, test on a row's audit)
AUDIT_FILTERS = {
    "fed_audio": ("rows whose model was fed audio", lambda a: (a.get("audio_seconds_fed") or 0) > 0),
    "no_audio_fed": ("rows fed no audio although the file has sound", lambda a: bool(a.get("no_audio_fed"))),
    "truncated": ("rows cut by a frame cap or an audio limit", lambda a: bool(a.get("truncated"))),
    "complete": ("rows fed their sound (if any) with nothing cut",
                 lambda a: not a.get("truncated") and not a.get("no_audio_fed")),
}
COUNTED = ("no_audio_fed", "truncated", "frames_capped", "audio_cut", "resampled", "silence_fed")


def check_filter(name: str | None) -> None:
    if name is not None and name not in AUDIT_FILTERS:
        raise ConfigError(f"--audit-filter {name!r}: choose from {', '.join(AUDIT_FILTERS)}")


def passes(audit: dict | None, name: str) -> bool:
    return audit is not None and AUDIT_FILTERS[name][1](audit)


def audit_summary(rows) -> dict:
    """Counts over a caption set's rows (CaptionRow): how many were audited and each flag's count."""
    audited = [r.audit for r in rows if r.audit is not None]
    out = {"rows": len(audited), "unaudited": sum(r.audit is None and r.error is None for r in rows)}
    out.update({flag: sum(bool(a.get(flag)) for a in audited) for flag in COUNTED})
    return out


def filter_benchmark(bench, cset, name: str):
    """``bench`` keeping the items whose row in ``cset`` passes filter ``name``; and how many were dropped."""
    def keep(item_id, video) -> bool:
        row = cset.lookup(item_id, video)
        return row is not None and passes(row.audit, name)

    rows = [r for r in bench.rows if keep(r.id, r.video)]
    qa = [q for q in bench.qa if keep(q.video_key, q.video_key)]
    dropped = len(bench.rows) - len(rows) + len(bench.qa) - len(qa)
    return dataclasses.replace(bench, rows=rows, qa=qa), dropped
