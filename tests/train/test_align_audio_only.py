"""Audio alignment on audio-only rows (video-SALMONN 2 §3.2: LibriSpeech-style ASR, AudioCaps-style
captions) through ``avcap train align``, on CPU with the tiny video-SALMONN 2+."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest
import torch

from avcap.data import load_dataset
from avcap.errors import DataError
from avcap.train.data import ClipDataset, collate_supervised, load_row_clip, supervised_items

from .conftest import write_jsonl
from .test_recipes import FAST, run_cli

TRANSCRIPTS = ["he said hello to the woman", "the quick brown fox jumps"]


def write_wav(path, seconds: float, freq_hz: float, rate: int = 16_000):
    t = np.arange(int(seconds * rate)) / rate
    pcm = (8000 * np.sin(2 * np.pi * freq_hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def asr_data(tmp_path_factory, data_dir):
    """Two ASR rows (wav, the release's ``<audio>`` placeholder and its ``<image>`` variant), one
    audio-caption row whose audio is a video's soundtrack, and one ordinary video row."""
    root = tmp_path_factory.mktemp("asr")
    write_wav(root / "s0.wav", 1.2, 220.0)
    write_wav(root / "s1.wav", 2.0, 330.0, rate=22_050)
    rows = [
        {"id": "s0", "audio": "s0.wav", "conversations": [
            {"from": "human", "value": "<audio>\nTranscribe the speech."}, {"from": "gpt", "value": TRANSCRIPTS[0]}]},
        {"id": "s1", "audio": "s1.wav", "conversations": [
            {"from": "human", "value": "<image>\nTranscribe the speech."}, {"from": "gpt", "value": TRANSCRIPTS[1]}]},
        {"id": "cap0", "audio": str(data_dir / "v0.mp4"), "conversations": [
            {"from": "human", "value": "<audio>\nDescribe the sound."}, {"from": "gpt", "value": "a tone plays"}]},
        {"id": "v1", "video": str(data_dir / "v1.mp4"), "conversations": [
            {"from": "human", "value": "<video>\nDescribe the video."}, {"from": "gpt", "value": "a square moves"}]},
    ]
    write_jsonl(root / "asr.jsonl", rows)
    return root


def test_audio_rows_load_as_frameless_clips_with_clean_prompts(asr_data):
    rows = load_dataset(asr_data / "asr.jsonl", allow_outside_paths=True).rows  # two rows use data_dir's videos
    items = supervised_items(rows, "unused default")
    assert [it.prompt for it in items] == ["Transcribe the speech.", "Transcribe the speech.", "Describe the sound.",
                                           "Describe the video."]
    dataset = ClipDataset(items, "salmonn2")
    clips = [dataset[i][0] for i in range(len(dataset))]
    assert [c.num_frames for c in clips[:3]] == [0, 0, 0] and clips[3].num_frames > 0
    assert clips[0].duration_s == pytest.approx(1.2) and clips[1].duration_s == pytest.approx(2.0, abs=1e-3)
    assert all(c.has_audio and c.sample_rate_hz == 16_000 for c in clips[:3])
    batch = collate_supervised([dataset[i] for i in range(len(dataset))])
    assert batch.ids == ["s0", "s1", "cap0", "v1"] and batch.examples[0].answer == TRANSCRIPTS[0]


def test_a_row_with_no_media_is_a_data_error(asr_data):
    row = load_dataset(asr_data / "asr.jsonl").rows[0]
    row.audio = None
    with pytest.raises(DataError, match="neither 'video' nor 'audio'"):
        load_row_clip(row, "salmonn2")


def _aligner_and_frozen(path):
    from avcap.models import load_captioner

    cap = load_captioner(str(path), device="cpu")
    names = {id(p): n for n, p in cap.model.named_parameters()}
    return {g: {names[id(p)]: p.detach().clone() for p in ps} for g, ps in cap.model.parameter_groups().items()}


def test_align_trains_the_audio_aligner_on_asr_rows(tiny_model, asr_data, tmp_path):
    out = tmp_path / "align"
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"data": str(asr_data / "asr.jsonl"), "output_dir": str(out),  # JSON is YAML
                                  "media_root": str(asr_data.parent)}))  # two rows use data_dir's videos
    # one step over all four rows: audio-only and video clips in one left-padded batch
    run_cli("align", "--config", str(config), *FAST[2:], "--optim.batch_size", "4")
    report = json.loads((out / "report.json").read_text())
    assert report["recipe"] == "align" and report["rows"] == 4 and report["train"]["global_step"] == 1
    assert report["train"]["finite"] and report["train"]["first_step"]["nll"] > 0
    start, trained = _aligner_and_frozen(tiny_model), _aligner_and_frozen(out / "model")
    assert any(not torch.equal(start["audio_aligner"][k], trained["audio_aligner"][k]) for k in start["audio_aligner"])
    for frozen in ("llm", "visual_encoder", "visual_aligner", "audio_encoder"):
        assert all(torch.equal(start[frozen][k], trained[frozen][k]) for k in start[frozen]), frozen
