"""Modality-mixed micro-batches: VideoLLaMA 2's audio-visual joint training (paper §3.3).

"We sample data for each batch in a 2:1:1 ratio of audio-visual data to visual data to audio
data, ensuring that all audio-visual data is covered in one epoch." The release's ``MixSampler``
(audio_visual branch) makes each batch of 4 from 2 audio-visual rows, 1 audio row and 1 video
row, walks the audio-visual rows once and cycles the other two lists. Here one dataset item
*is* such a group (``sum(ratio)`` examples), so transformers' sampler can shuffle groups without
breaking their mix; ``optim.batch_size`` then counts groups.

A row's modality is its ``modality`` field (``audio-visual``, ``visual``, ``audio``); without
one, a row with a video is audio-visual and a row with only audio is audio. A visual example
is fed without any audio input (no audio tokens, as the release's video-only rows); an audio
example without frames (a row with a video then gives its soundtrack).
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from torch.utils.data import Dataset

from avcap.errors import DataError
from avcap.media.clip import Clip
from avcap.train.data import SupervisedBatch, SupervisedItem, collate_supervised, load_row_clip

MODALITIES = ("audio-visual", "visual", "audio")


def row_modality(item: SupervisedItem) -> str:
    row = item.row
    value = row.raw.get("modality")
    if value is None:
        return "audio-visual" if row.video is not None else "audio"
    if value not in MODALITIES:
        raise DataError(f"{row.source}: row '{row.id}' has modality {value!r}; expected one of {', '.join(MODALITIES)}")
    if value != "audio" and row.video is None:
        raise DataError(f"{row.source}: row '{row.id}' is {value} but has no video")
    return value


def mixed_groups(kinds: list[str], ratio: list[int], seed: int = 0) -> list[list[int]]:
    """Index groups of ``ratio`` = [av, visual, audio] items: every audio-visual row once (a
    remainder smaller than ``ratio[0]`` is dropped, as the release drops an odd last one), the
    visual and audio rows cycled. Each list is shuffled once with ``seed``."""
    if len(ratio) != 3 or any(r < 0 for r in ratio) or ratio[0] < 1:
        raise DataError(f"modality_mix {ratio}: give [audio-visual, visual, audio] counts with audio-visual >= 1")
    rng = random.Random(seed)
    pools = {kind: [i for i, k in enumerate(kinds) if k == kind] for kind in MODALITIES}
    for kind, count in zip(MODALITIES, ratio):
        if count and not pools[kind]:
            raise DataError(f"modality_mix {ratio} needs {kind} rows, and the data has none "
                            "(type rows with a 'modality' field: audio-visual, visual or audio)")
        rng.shuffle(pools[kind])
    av, visual, audio = (pools[k] for k in MODALITIES)
    n_groups = len(av) // ratio[0]
    if n_groups == 0:
        raise DataError(f"modality_mix {ratio}: {len(av)} audio-visual rows are fewer than one group needs")
    groups = []
    for g in range(n_groups):
        group = av[g * ratio[0]:(g + 1) * ratio[0]]
        group += [visual[(g * ratio[1] + j) % len(visual)] for j in range(ratio[1])]
        group += [audio[(g * ratio[2] + j) % len(audio)] for j in range(ratio[2])]
        groups.append(group)
    return groups


def modality_view(clip: Clip, modality: str) -> Clip:
    """The clip as the model sees it for ``modality``: visual drops the sound, audio the frames."""
    if modality == "visual":
        return replace(clip, audio=np.zeros(0, np.float32), has_audio=False)
    if modality == "audio" and not clip.audio_only:
        return replace(clip, frames=np.zeros((0, 0, 0, 3), np.uint8), frame_times=np.zeros(0))
    return clip


class MixedDataset(Dataset):
    """Item g = the (clip, item) pairs of mixed group g, clips decoded on access (in DataLoader workers)."""

    def __init__(self, items: list[SupervisedItem], ratio: list[int], frame_policy, seed: int = 0):
        self.items = items
        self.kinds = [row_modality(item) for item in items]
        self.groups = mixed_groups(self.kinds, list(ratio), seed)
        self.frame_policy = frame_policy

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> list[tuple[Clip, SupervisedItem]]:
        out = []
        for i in self.groups[index]:
            item, kind = self.items[i], self.kinds[i]
            row = item.row
            if kind == "audio" and row.video is not None:  # the soundtrack of a video row
                from avcap.media import load_audio_clip

                clip = load_audio_clip(row.audio or row.video)
            else:
                clip = load_row_clip(row, self.frame_policy)
            out.append((modality_view(clip, kind), item))
        return out


def collate_mixed(batch: list[list[tuple[Clip, SupervisedItem]]]) -> SupervisedBatch:
    return collate_supervised([pair for group in batch for pair in group])
