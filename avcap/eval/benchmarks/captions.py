"""Caption files for a benchmark run: avcap's rows, or the files the official pipelines write.

Accepted rows (JSONL or a JSON list, read by :func:`avcap.data.read_records`):

* avcap's ``{"id", "caption", "error", "video", "model", "sample", ...}`` (``avcap caption``);
* ``{"video_id", "caption"}`` — what the UGC-VideoCap, VDC and AVoCaDO caption scripts write;
* ``{"<video id>": "<caption>"}`` — AVoCaDO's Daily-Omni / WorldSense caption files;
* DREAM-1K prediction rows (``messages`` whose assistant part carries the prediction in
  ``text``), as the Tarsier pipeline writes them.

Whether a caption *ended cleanly* (the model stopped by itself) decides the video-SALMONN 2
protocol's repeated-text collapsing. The official script sees the raw text and checks for the
end-of-turn token; avcap's rows hold decoded text, so the row's own record wins when it has one
(``finish_reason``, ``truncated``, ``audit.truncated``), then an end-of-turn token at the end of
the text, and otherwise it is unknown (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avcap.data import read_records
from avcap.data.records import in_file_order
from avcap.errors import DataError
from avcap.eval.captions import CaptionRow, CaptionSet

END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>", "<end_of_turn>", "<|end|>")
_CLEAN_FINISH = {"stop", "eos", "end_turn", "stop_sequence"}
_CUT_FINISH = {"length", "max_tokens", "max_new_tokens", "truncated"}


@dataclass
class BenchCaptions:
    set: CaptionSet
    ended: dict[str, bool | None]  # caption id -> ended cleanly (None: not recorded)
    layout: str  # which row layout the file used

    @property
    def name(self) -> str:
        return self.set.name


def ended_cleanly(row: dict, caption: str) -> tuple[bool | None, str]:
    """``(ended, caption without a trailing end-of-turn token)`` from what the row records."""
    text = caption.rstrip()
    for token in END_OF_TURN:
        if text.endswith(token):
            return True, text[: -len(token)].rstrip()
    finish = row.get("finish_reason")
    if not isinstance(finish, str) and isinstance(row.get("generation"), dict):
        finish = row["generation"].get("finish_reason")
    if isinstance(finish, str):
        if finish.lower() in _CLEAN_FINISH:
            return True, caption
        if finish.lower() in _CUT_FINISH:
            return False, caption
    for holder in (row, row.get("audit") if isinstance(row.get("audit"), dict) else {}):
        if isinstance(holder.get("truncated"), bool):
            return not holder["truncated"], caption
    return None, caption


def _dream_prediction(obj: dict) -> tuple[str | None, str | None]:
    for message in obj.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        for part in message.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                return str(obj.get("idx", obj.get("vid"))), part["text"]
    return None, None


def load_bench_captions(path: str | Path, name: str | None = None, sample: int = 0) -> BenchCaptions:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: captions file not found")
    rows: dict[str, CaptionRow] = {}
    ended: dict[str, bool | None] = {}
    records = read_records(path)  # the reader every command shares
    errors: list[DataError] = list(records.errors)
    layout = "avcap"
    for line, obj in records.items:
        where = f"{path}:{line}"
        if (obj.get("sample") or 0) != sample:
            continue
        caption, error = obj.get("caption"), obj.get("error")
        row_id = obj.get("id")
        if row_id is None and "video_id" in obj:
            row_id, layout = obj["video_id"], "video_id"
        elif row_id is None and "messages" in obj:
            row_id, caption = _dream_prediction(obj)
            layout = "dream_prediction"
        elif row_id is None and len(obj) == 1:
            ((row_id, caption),) = obj.items()
            layout = "id_to_caption"
        if row_id is None or isinstance(row_id, bool) or str(row_id).strip() == "":
            errors.append(DataError(f"{where}: caption row has no 'id' (or 'video_id')"))
            continue
        if caption is not None and not isinstance(caption, str):
            errors.append(DataError(f"{where}: 'caption' must be a string"))
            continue
        if error is not None and not isinstance(error, str):
            error = str(error)
        if error is None and caption is None:
            error = "the caption row has neither a caption nor an error"
        rid = str(row_id)
        # As `avcap eval` reads captions: a repeated id is a defect of the file and the first row
        # is used, except an error row followed by a caption of that id, which is a retry.
        first = rows.get(rid)
        if first is not None and not (first.error and not error):
            errors.append(DataError(f"{where}: duplicate caption id '{rid}' (first at {first.source}); "
                                    "the first row is used"))
            continue
        if caption is not None:
            ended[rid], caption = ended_cleanly(obj, caption)
        video = obj.get("video") if isinstance(obj.get("video"), str) else None
        model = obj.get("model") if isinstance(obj.get("model"), str) else None
        rows[rid] = CaptionRow(rid, caption, error, video, model, where)
    return BenchCaptions(CaptionSet(name or path.stem, path, rows, in_file_order(errors)), ended, layout)
