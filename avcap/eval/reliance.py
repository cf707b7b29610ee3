"""How much a captioner's ground-truth likelihood depends on what it sees and hears.

A captioner that ignores an input scores the reference caption the same with that input
removed. For each row we compute the mean per-token negative log-likelihood of the reference
caption given

* ``matched``: the row's own video and sound;
* ``muted``: the same frames, the sound replaced by silence of the same length;
* ``blank``: the same sound, every frame replaced by black;
* ``swapped``: another row's video and sound (the next row's, cyclically).

``reliance = NLL(condition) - NLL(matched)`` in nats per token: about 0 means the input is
ignored; the larger, the more the caption is grounded in it. Teacher-forced scoring, so it needs
no judge and no generation. ``python -m avcap.eval.reliance MODEL DATA [--n 64]`` prints JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence

import numpy as np

CONDITIONS = ("matched", "muted", "blank", "swapped")


def blank_clip(clip):
    return dataclasses.replace(clip, frames=np.zeros_like(clip.frames))


def condition_clips(clips: list) -> dict[str, list]:
    """The four input conditions for the same references (``swapped`` pairs row i with clip i+1)."""
    return {"matched": clips, "muted": [c.muted() for c in clips], "blank": [blank_clip(c) for c in clips],
            "swapped": clips[1:] + clips[:1]}


def reliance_from_nll(nll: dict[str, float]) -> dict[str, float]:
    """Per-token NLL gaps against ``matched`` (pure; nats per token)."""
    return {f"{name}_minus_matched": nll[name] - nll["matched"] for name in nll if name != "matched"}


def measure_reliance(captioner, rows: Sequence, load_clip: Callable, batch_size: int = 8) -> dict:
    """Mean per-token NLL of each row's reference under each condition, and the gaps.

    ``rows`` need ``prompt`` and ``reference``; ``load_clip(row)`` decodes a row's clip.
    Tokens are pooled over rows (sum of NLL / sum of tokens), as the training loss is.
    """
    import torch

    from avcap.models.base import TrainExample

    if len(rows) < 2:
        raise ValueError("input reliance needs at least 2 rows (swapped pairs each row with another)")
    clips = [load_clip(row) for row in rows]
    totals = dict.fromkeys(CONDITIONS, 0.0)
    tokens = 0
    captioner.model.eval()
    with torch.no_grad():
        for name, conditioned in condition_clips(clips).items():
            for start in range(0, len(rows), batch_size):
                batch = [TrainExample(clip, row.prompt, row.reference)
                         for clip, row in zip(conditioned[start:start + batch_size], rows[start:start + batch_size])]
                logps, counts = captioner.sequence_logps(batch, return_counts=True)
                totals[name] -= float(logps.sum())
                if name == "matched":
                    tokens += int(torch.as_tensor(counts).sum())
    nll = {name: total / tokens for name, total in totals.items()}
    return {"rows": len(rows), "tokens": tokens, "nll": nll, **reliance_from_nll(nll)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m avcap.eval.reliance", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="captioner (checkpoint folder, builtin:nano, tiny:<name>, hub id)")
    parser.add_argument("data", help="dataset file whose rows carry a reference caption")
    parser.add_argument("--n", type=int, default=64, help="rows to use (the first N)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    from avcap.data import atomic_write_json, load_dataset
    from avcap.media import load_media
    from avcap.models import load_captioner

    captioner = load_captioner(args.model, device="cpu")
    rows = [row for row in load_dataset(args.data).rows if row.reference and row.video][: args.n]
    result = measure_reliance(captioner, rows,  # the row's own segment / use_audio, as captioning reads them
                              lambda row: load_media(video=row.video, audio=row.audio, policy=captioner.frame_policy,
                                                     use_audio=row.use_audio, segment=row.timestamps))
    result["model"] = args.model
    if args.out:
        atomic_write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
