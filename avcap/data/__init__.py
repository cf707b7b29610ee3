"""Dataset rows in and out: validated readers, append-only resumable writers."""

from avcap.data.jsonl import JsonlAppender, atomic_write_json, atomic_write_text, iter_jsonl
from avcap.data.records import Records, read_records
from avcap.data.rows import Dataset, DatasetRow, OutsidePathError, load_dataset, parse_row

__all__ = [
    "Dataset", "DatasetRow", "JsonlAppender", "OutsidePathError", "Records", "atomic_write_json",
    "atomic_write_text", "iter_jsonl", "load_dataset", "parse_row", "read_records",
]
