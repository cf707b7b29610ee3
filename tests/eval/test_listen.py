"""Recall with sound vs muted from two captions files (avcap.eval.listen)."""

import json
from pathlib import Path

from avcap.eval.listen import captions_recall, listen_summary, recall_of
from avcap.synth.language import caption_from_script, event_sentence
from avcap.synth.lexicon import VISUAL_KINDS
from avcap.synth.sampler import sample_script
from avcap.synth.world import WorldConfig


def rows_and_files(tmp_path: Path) -> tuple[list[dict], Path, Path]:
    scripts = [sample_script((4, i), WorldConfig()) for i in range(6)]
    rows = [{"id": f"v{i}", "script": s.to_dict()} for i, s in enumerate(scripts)]
    heard = tmp_path / "with_sound.jsonl"  # the exact captions: every event right
    heard.write_text("".join(json.dumps({"id": r["id"], "caption": caption_from_script(s), "error": None}) + "\n"
                             for r, s in zip(rows, scripts)))
    deaf = tmp_path / "muted.jsonl"  # only the visual sentences, and one failed caption
    lines = []
    for r, s in zip(rows, scripts):
        visual = " ".join(event_sentence(e) for e in s.events if e.kind in VISUAL_KINDS)
        lines.append({"id": r["id"], "caption": visual, "error": None} if r["id"] != "v5" else
                     {"id": "v5", "caption": None, "error": "decode failed"})
    deaf.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return rows, heard, deaf


def test_with_sound_and_muted_are_kept_apart(tmp_path: Path):
    rows, heard, deaf = rows_and_files(tmp_path)
    summary = listen_summary(rows, heard, deaf)
    assert summary["with_sound"]["videos"] == 6 and summary["muted"] == {**captions_recall(rows, deaf)}
    assert summary["muted"]["videos"] == 5 and summary["muted"]["failed"] == 1
    assert recall_of(summary, "with_sound", "sound") == 1.0 and recall_of(summary, "with_sound", "visual") == 1.0
    assert recall_of(summary, "muted", "sound") == 0.0 and recall_of(summary, "muted", "visual") == 1.0
    assert set(summary["attribute_chance"]) == {"tone", "beep", "noise", "bang", "speech", "sound"}


def test_a_row_without_a_caption_counts_as_failed(tmp_path: Path):
    rows, heard, _ = rows_and_files(tmp_path)
    rows.append({"id": "extra", "script": rows[0]["script"]})
    got = captions_recall(rows, heard)
    assert got["failed"] == 1 and got["videos"] == 6
