"""Training rows → items (clip decoded lazily, in DataLoader workers) → typed batches.

Every recipe reads the dataset format of DESIGN.md: a row's first human turn is the prompt,
its first model turn the ground-truth answer; preference rows add ``chosen`` and
``rejected``. A row with ``audio`` but no ``video`` is an audio-only row (its clip has no frames). The captioner tokenises inside ``sequence_logps``, so a batch carries
``TrainExample`` lists rather than tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from avcap.data import DatasetRow, load_dataset
from avcap.data.grounding import check_frame_tags
from avcap.errors import DataError
from avcap.media.clip import Clip
from avcap.models.base import TrainExample

log = logging.getLogger("avcap.train")
MAX_LOGGED_ERRORS = 20  # per-row lines before "… and N more"


@dataclass
class SupervisedItem:
    row: DatasetRow
    prompt: str
    answer: str


@dataclass
class PreferenceItem:
    row: DatasetRow
    prompt: str
    chosen: str
    rejected: str
    reference: str | None  # the ground-truth caption (gDPO's y_gt)


@dataclass
class SupervisedBatch:
    ids: list[str]  # [B]
    examples: list[TrainExample]  # [B] clip + prompt + ground-truth answer

    def __len__(self) -> int:
        return len(self.examples)


@dataclass
class PreferenceBatch:
    ids: list[str]  # [B] ids of the pairs
    chosen: list[TrainExample]  # [B]
    rejected: list[TrainExample]  # [B]
    ground_truth: list[TrainExample]  # [B] for gDPO, [] for plain DPO
    extra: list[TrainExample] = field(default_factory=list)  # [E] SFT/QA rows (last MrDPO round)

    def __len__(self) -> int:
        return len(self.chosen) + len(self.extra)


def load_rows(path: str | Path, *, what: str, media_root: str | Path | None = None,
              allow_outside_paths: bool = False) -> list[DatasetRow]:
    """All valid rows of a dataset file, read as every command reads them (:func:`avcap.data.load_dataset`):
    a malformed row, or one whose media lie outside ``media_root`` (default: the file's folder), is
    skipped and logged with its ``file:line``; no valid row at all is a DataError."""
    dataset = load_dataset(path, media_root=media_root, allow_outside_paths=allow_outside_paths)
    for err in dataset.errors[:MAX_LOGGED_ERRORS]:
        log.warning("skipped %s row: %s", what, err)
    if len(dataset.errors) > MAX_LOGGED_ERRORS:
        log.warning("skipped %s rows: … and %d more", what, len(dataset.errors) - MAX_LOGGED_ERRORS)
    if not dataset.rows:
        first = f" ({dataset.errors[0]})" if dataset.errors else ""
        raise DataError(f"{path}: no {what} rows{first}")
    return dataset.rows


def config_rows(cfg, path: str | Path, *, what: str) -> list[DatasetRow]:
    """:func:`load_rows` with a recipe config's ``media_root`` / ``allow_outside_paths``."""
    return load_rows(path, what=what, media_root=cfg.media_root, allow_outside_paths=cfg.allow_outside_paths)


# An audio row's placeholder in the 2+ release's data (``<audio>``; an ``<image>`` there is
# turned into ``<audio>`` when the row has audio but no video or image, LazySupervisedDataset).


def row_prompt(row: DatasetRow, default_prompt: str) -> str:
    """The row's instruction (media placeholders are stripped when rows are read), else the default."""
    return row.prompt or default_prompt


def supervised_items(rows: list[DatasetRow], default_prompt: str) -> list[SupervisedItem]:
    """Rows with their answer; a frame-grounded answer (Tarsier2's ``<frame: i-j>``) is checked here."""
    items = []
    for row in rows:
        if not row.reference:
            raise DataError(f"{row.source}: row '{row.id}' has no ground-truth answer (a 'gpt' turn)")
        try:
            check_frame_tags(row.reference)
        except DataError as err:
            raise DataError(f"{row.source}: row '{row.id}': {err}") from None
        items.append(SupervisedItem(row, row_prompt(row, default_prompt), row.reference))
    return items


def _text(row: DatasetRow, key: str) -> str:
    # The pair comes from avcap's top-level fields or from the official DPO roles
    # (2+: chosen / reject; first release: gpt / reject_gpt), read by avcap.data.official.
    value = getattr(row, key, None)
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{row.source}: preference row '{row.id}' needs a non-empty '{key}' answer (a '{key}' "
                        f"field, or a '{'chosen' if key == 'chosen' else 'reject'}' / "
                        f"'{'gpt' if key == 'chosen' else 'reject_gpt'}' turn)")
    return value.strip()


def preference_items(rows: list[DatasetRow], default_prompt: str, need_reference: bool) -> list[PreferenceItem]:
    items = []
    for row in rows:
        if need_reference and not row.reference:
            raise DataError(f"{row.source}: gDPO row '{row.id}' has no ground-truth caption (a 'gpt' turn)")
        items.append(PreferenceItem(row, row_prompt(row, default_prompt), _text(row, "chosen"), _text(row, "rejected"),
                                    row.reference))
    return items


def load_row_clip(row: DatasetRow, frame_policy: str) -> Clip:
    """Decode the row's video (and separate audio track, if any) under the captioner's policy.

    A row with ``audio`` and no ``video`` (ASR / audio-caption rows of audio alignment,
    video-SALMONN 2 §3.2) becomes an audio-only clip with no frames; an ``image`` row a one-frame
    clip; ``use_audio: false`` drops the sound and ``timestamps`` cut the row's segment.
    """
    from avcap.media import load_media

    image = getattr(row, "image", None)
    if row.video is None and row.audio is None and image is None:
        # parse_row refuses such rows; a hand-built row may still lack them
        raise DataError(f"{row.source}: row '{row.id}' has neither 'video' nor 'audio'")
    return load_media(video=row.video, audio=row.audio, image=image, policy=frame_policy,
                      use_audio=getattr(row, "use_audio", True), segment=getattr(row, "timestamps", None))


class ClipDataset(Dataset):
    """Items whose clip is decoded on access, so DataLoader workers decode in parallel."""

    def __init__(self, items: list[SupervisedItem | PreferenceItem], frame_policy: str):
        self.items = items
        self.frame_policy = frame_policy

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Clip, SupervisedItem | PreferenceItem]:
        item = self.items[index]
        return load_row_clip(item.row, self.frame_policy), item


def collate_supervised(batch: list[tuple[Clip, SupervisedItem]]) -> SupervisedBatch:
    for clip, item in batch:  # a frame tag must name one of the frames the model is shown
        try:
            check_frame_tags(item.answer, clip.num_frames)
        except DataError as err:
            raise DataError(f"{item.row.source}: row '{item.row.id}': {err} under this frame policy") from None
    return SupervisedBatch(
        ids=[item.row.id for _, item in batch],
        examples=[TrainExample(clip, item.prompt, item.answer) for clip, item in batch],
    )


class PreferenceCollator:
    """Pairs become chosen / rejected (/ ground truth) lists; supervised items go to ``extra``."""

    def __init__(self, with_ground_truth: bool):
        self.with_ground_truth = with_ground_truth

    def __call__(self, batch: list[tuple[Clip, PreferenceItem | SupervisedItem]]) -> PreferenceBatch:
        out = PreferenceBatch(ids=[], chosen=[], rejected=[], ground_truth=[], extra=[])
        for clip, item in batch:
            if isinstance(item, SupervisedItem):
                out.extra.append(TrainExample(clip, item.prompt, item.answer))
                continue
            out.ids.append(item.row.id)
            out.chosen.append(TrainExample(clip, item.prompt, item.chosen))
            out.rejected.append(TrainExample(clip, item.prompt, item.rejected))
            if self.with_ground_truth:
                assert item.reference is not None  # checked by preference_items(need_reference=True)
                out.ground_truth.append(TrainExample(clip, item.prompt, item.reference))
        return out
