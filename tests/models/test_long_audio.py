"""Long audio through the models in bounded pieces, with the same numbers as one whole pass:
feature extraction a few chunks per call, Whisper + Q-Former a few chunks per pass, and
Qwen2.5-Omni handed only the samples its processor keeps."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from avcap.media import whisper_chunks
from avcap.media.clip import Clip
from avcap.media.track import TrackWriter
from avcap.models.salmonn2 import audio as salmonn2_audio
from avcap.models.salmonn2.audio import audio_features, whisper_feature_extractor

from .conftest_salmonn2 import tiny_captioner

SR = 16_000
CHUNK_S = 10.0


def _spilled(samples: np.ndarray) -> np.ndarray:
    writer = TrackWriter(None, spill_over=0)
    writer.write(samples)
    return writer.finish()


def _whole_pass_features(audio: np.ndarray, extractor) -> np.ndarray:
    """The features before batching: every chunk through the extractor in one call."""
    out = extractor(list(whisper_chunks(audio, chunk_s=CHUNK_S)), sampling_rate=SR, return_tensors="np")["input_features"]
    return np.asarray(out, dtype=np.float32)


def _extractor(mel_bins: int = 16):
    # 10 s chunks: the same code path as the release's 30 s, at a third of the test's time.
    return whisper_feature_extractor(SimpleNamespace(num_mel_bins=mel_bins, chunk_s=CHUNK_S))


def test_features_in_batches_equal_one_call(monkeypatch):
    extractor = _extractor()
    audio = (0.3 * np.random.default_rng(0).standard_normal(int(23.5 * SR))).astype(np.float32)  # 3 chunks
    reference = _whole_pass_features(audio, extractor)
    monkeypatch.setattr(salmonn2_audio, "FEATURE_CHUNKS_PER_CALL", 2)
    for source in (audio, _spilled(audio)):
        got = audio_features(source, extractor, CHUNK_S)
        assert got.shape == reference.shape == (3, extractor.feature_size, 1000)
        np.testing.assert_array_equal(got, reference)


def test_feature_memory_does_not_grow_with_the_track(monkeypatch):
    """Traced (numpy) peak of the features of a 3 min spilled track vs a 20 s one, 1 chunk per call:
    what grows is the output (16 mel bins: 64 KB per 640 KB chunk of audio), not a chunked copy of
    the track (one call over all chunks held it about three times)."""
    extractor = _extractor()
    monkeypatch.setattr(salmonn2_audio, "FEATURE_CHUNKS_PER_CALL", 1)
    rng = np.random.default_rng(1)
    peaks, sizes = [], []
    for seconds in (20.0, 180.0):
        audio = _spilled((0.3 * rng.standard_normal(int(seconds * SR))).astype(np.float32))
        tracemalloc.start()
        feats = audio_features(audio, extractor, CHUNK_S)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert feats.shape[0] == int(np.ceil(seconds / CHUNK_S))
        sizes.append(audio.nbytes)
    assert peaks[1] - peaks[0] < 0.25 * (sizes[1] - sizes[0]), (peaks, sizes)


@pytest.mark.parametrize("variant", ["plus", "v1"])  # v1 adds a per-chunk segment embedding after the passes
def test_aligner_in_passes_equals_one_pass(variant, monkeypatch):
    aligner = tiny_captioner(variant).model.audio
    feats = torch.from_numpy(np.random.default_rng(2).standard_normal((5, 16, 3000)).astype(np.float32))
    with torch.no_grad():
        monkeypatch.setattr(salmonn2_audio, "ENCODER_CHUNKS_PER_CALL", 10**6)
        whole = aligner(feats, [2, 3])
        monkeypatch.setattr(salmonn2_audio, "ENCODER_CHUNKS_PER_CALL", 2)
        passes = aligner(feats, [2, 3])
    assert [t.shape for t in passes] == [t.shape for t in whole] and [t.shape[0] for t in whole] == [120, 180]
    for a, b in zip(passes, whole):
        assert torch.equal(a, b)  # one thread (conftest): every chunk's tokens are the same bits


def test_aligner_passes_are_bounded_and_short_batches_take_one(monkeypatch):
    aligner = tiny_captioner("plus").model.audio
    sizes = []
    hook = aligner.encoder.register_forward_hook(lambda module, args, out: sizes.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            step = salmonn2_audio.ENCODER_CHUNKS_PER_CALL
            aligner(torch.zeros((step, 16, 3000)), [step])  # e.g. a batch of 1-2 min clips: one pass, as before
            assert sizes == [step]
            sizes.clear()
            aligner(torch.zeros((2 * step + 1, 16, 3000)), [2 * step + 1])  # a long clip: bounded passes
            assert sizes == [step, step, 1]
    finally:
        hook.remove()


def _clip(audio: np.ndarray, frames: int = 4) -> Clip:
    duration = audio.shape[0] / SR
    times = np.linspace(0, duration, frames, endpoint=False)
    pixels = np.random.default_rng(3).integers(0, 255, (frames, 56, 56, 3), dtype=np.uint8)
    if frames == 0:
        pixels, times = np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0)
    return Clip(path="long.mp4", frames=pixels, frame_times=times, audio=audio, duration_s=duration, has_audio=True)


def _same(a: dict, b: dict) -> bool:
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k]
                                          for k in a)


@pytest.mark.parametrize("frames", [4, 0])  # audio in video, and an audio-only row
def test_qwen25_omni_gets_only_the_audio_its_processor_keeps(frames, load_tiny, monkeypatch):
    from avcap.models import omni

    cap = load_tiny("tiny:omni")
    kept = omni.audio_samples_kept(cap.processor)
    assert kept == cap.processor.feature_extractor.n_samples == 10 * SR  # the miniature's chunk_length
    audio = (0.3 * np.random.default_rng(4).standard_normal(int(13.3 * SR))).astype(np.float32)
    clip = _clip(_spilled(audio), frames)
    cut = cap.encode(clip, "Describe.")
    monkeypatch.setattr(omni, "audio_samples_kept", lambda processor: None)
    assert _same(cut, cap.encode(clip, "Describe."))  # the processor cut the same samples itself
    assert _same(cut, cap.encode(_clip(audio, frames), "Describe."))  # spilled or in memory: same inputs


def test_qwen3_omni_keeps_the_whole_track(load_tiny):
    from avcap.models import omni

    assert omni.audio_samples_kept(load_tiny("tiny:qwen3-omni").processor) is None  # its processor: truncation=False
