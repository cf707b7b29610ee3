"""The pinned score of a shipped nano model on a fixed held-out slice (``training_report.json["pin"]``).

``nano_report --ship`` computes it for the model it ships; ``tests/test_nano_pin.py`` recomputes
it for ``builtin:nano`` and asserts it is unchanged, so any change to decoding, media loading,
the model code or the judge that moves the shipped model's captions fails the default suite.

The slice: the first :data:`PIN_N` videos of the held-out set (synthetic seed 3, no speech, as
``scripts/train_nano.sh`` writes it), captioned as the script's held-out evaluation does (greedy,
``max_new_tokens`` 128, batch 8, CPU float32, through :func:`avcap.models.captioning.run_captioning`),
judged by the symbolic judge against each video's script and pooled over events. Greedy decoding
in float32 on the CPU is deterministic for a fixed batch, so the scores must match exactly; the
captions are stored too, so a failure shows which video changed and how.
"""

from __future__ import annotations

from pathlib import Path

from avcap.errors import DataError

PIN_SEED = 3  # the held-out seed of scripts/train_nano.sh
PIN_N = 8
PIN_MAX_NEW_TOKENS = 128
PIN_BATCH = 8
PIN_KEYS = ("total", "miss", "hall", "sound_recall", "visual_recall")


def pin_slice(model: str, workdir: str | Path) -> dict:
    """Build the slice under ``workdir``, caption it with ``model`` on the CPU, score it."""
    from transformers.utils import logging as hf_logging

    from avcap.data import load_dataset
    from avcap.eval.captions import load_captions
    from avcap.metrics.events import pooled_error_rates
    from avcap.models import GenerationConfig, load_captioner
    from avcap.models.captioning import CaptionItem, CaptionRunConfig, run_captioning
    from avcap.synth.dataset import DatasetConfig, build_dataset
    from avcap.synth.recall import pooled_recall
    from avcap.synth.world import WorldConfig
    from avcap.train.scoring import ScoreFailure, SymbolicScorer

    workdir = Path(workdir)
    build_dataset(DatasetConfig(out=workdir, n=PIN_N, seed=PIN_SEED, world=WorldConfig(speech=False)),
                  progress=False)
    rows = load_dataset(workdir / "train.json", strict=True).rows
    hf_logging.disable_progress_bar()
    captioner = load_captioner(model, device="cpu", dtype="float32")
    out = workdir / "captions.jsonl"
    run = run_captioning(captioner, [CaptionItem(id=r.id, video=r.video, prompt=r.prompt) for r in rows],
                         CaptionRunConfig(out=out, generation=GenerationConfig(max_new_tokens=PIN_MAX_NEW_TOKENS),
                                          batch_size=PIN_BATCH, progress=False))
    if run.failed:
        raise DataError(f"pin slice: {run.failed} of {len(rows)} videos failed to caption (see {out})")
    found = load_captions(out)
    captions = [found.rows[r.id].caption or "" for r in rows]
    counts = SymbolicScorer()(rows, captions)
    failed = [c.cause for c in counts if isinstance(c, ScoreFailure)]
    if failed:
        raise DataError(f"pin slice: {len(failed)} captions could not be judged ({failed[0]})")
    rates = pooled_error_rates(counts)
    recall = pooled_recall((row.raw["script"], caption) for row, caption in zip(rows, captions))
    return {
        "slice": {"seed": PIN_SEED, "n": PIN_N, "speech": False, "max_new_tokens": PIN_MAX_NEW_TOKENS,
                  "batch_size": PIN_BATCH, "device": "cpu", "dtype": "float32", "judge": "symbolic"},
        "ids": [r.id for r in rows],
        "total": rates["total"], "miss": rates["miss"], "hall": rates["hall"],
        "n_events": rates["n_events"],
        "sound_recall": recall["sound"].recall, "visual_recall": recall["visual"].recall,
        "captions": dict(zip((r.id for r in rows), captions)),
    }


def write_pin(model_dir: str | Path) -> dict:
    """Compute the pin of the model in ``model_dir`` and store it in its ``training_report.json``."""
    import json
    import tempfile

    from avcap.data import atomic_write_json

    model_dir = Path(model_dir)
    report_path = model_dir / "training_report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="avcap-pin-") as tmp:
        report["pin"] = pin_slice(str(model_dir), tmp)
    atomic_write_json(report_path, report)
    return report["pin"]


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m avcap.train.nano_pin",
        description="Pin a nano model's held-out slice score into its training_report.json "
                    "(nano_report --ship does this itself). Example: python -m avcap.train.nano_pin avcap/assets/nano")
    parser.add_argument("model_dir", type=Path, help="a nano checkpoint folder (avcap/assets/nano is builtin:nano)")
    pin = write_pin(parser.parse_args(argv).model_dir)
    print(" ".join(f"{k} {pin[k]:.4f}" for k in PIN_KEYS if pin[k] is not None) + f" on {len(pin['ids'])} videos")


if __name__ == "__main__":
    main()
