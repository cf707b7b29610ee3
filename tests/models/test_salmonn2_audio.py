"""The audio branch: 60 tokens per 30 s chunk, segment embedding per chunk, local Q-Former config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avcap.errors import ModelError
from avcap.models.salmonn2.audio import AudioAligner, audio_features, whisper_feature_extractor
from avcap.models.salmonn2.config import AudioAlignerConfig
from avcap.models.salmonn2.interleave import segment_position_embedding

from .conftest_salmonn2 import tiny_captioner

LARGE_V3 = dict(num_mel_bins=128, d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120,
                max_source_positions=1500)


def test_released_settings_give_60_tokens_per_30s():
    cfg = AudioAlignerConfig(whisper=dict(LARGE_V3), llm_hidden_size=3584)
    assert cfg.encoder_frames == 1500  # Whisper: 50 encoder frames per second over 30 s
    assert cfg.window_frames == 25  # 0.5 s windows
    assert cfg.tokens_per_chunk == 60
    assert AudioAlignerConfig(whisper=dict(LARGE_V3), llm_hidden_size=8, num_query_tokens=2).tokens_per_chunk == 120


def test_qformer_config_is_built_locally():
    cfg = AudioAlignerConfig(whisper=dict(LARGE_V3), llm_hidden_size=3584)
    q = cfg.qformer_config()  # bert-base-uncased sizes, no download
    assert (q.hidden_size, q.num_hidden_layers, q.num_attention_heads, q.intermediate_size) == (768, 2, 12, 3072)
    assert (q.encoder_hidden_size, q.cross_attention_frequency) == (1280, 1)


@pytest.mark.parametrize("bad", [dict(second_per_window=40.0), dict(qformer_heads=5), dict(num_query_tokens=0)])
def test_invalid_aligner_config_is_a_model_error(bad):
    with pytest.raises(ModelError):
        AudioAlignerConfig(whisper=dict(LARGE_V3), llm_hidden_size=64, **bad)


@pytest.mark.parametrize("variant", ["plus", "v1"])
@pytest.mark.parametrize("seconds,chunks", [(0.3, 1), (30.0, 1), (30.5, 2), (61.0, 3)])
def test_tokens_per_clip_are_60_per_started_chunk(variant, seconds, chunks):
    aligner = tiny_captioner(variant).model.audio
    extractor = whisper_feature_extractor(aligner.cfg)
    feats = audio_features(np.zeros(int(seconds * 16_000), np.float32), extractor, aligner.cfg.chunk_s)
    assert feats.shape == (chunks, aligner.cfg.num_mel_bins, 3000)
    with torch.no_grad():
        (tokens,) = aligner(torch.from_numpy(feats), [chunks])
    assert tokens.shape == (60 * chunks, aligner.cfg.llm_hidden_size)


def test_segment_embedding_is_added_per_chunk():
    aligner = tiny_captioner("v1").model.audio  # the first release adds it; 2+ does not
    assert aligner.cfg.segment_position and not tiny_captioner("plus").model.audio.cfg.segment_position
    rng = np.random.default_rng(0)
    feats = torch.from_numpy(rng.standard_normal((3, 16, 3000)).astype(np.float32))
    with torch.no_grad():
        with_pe = aligner(feats, [2, 1])
        aligner.cfg.segment_position = False
        try:
            without = aligner(feats, [2, 1])
        finally:
            aligner.cfg.segment_position = True
    table = torch.from_numpy(segment_position_embedding(2, aligner.cfg.llm_hidden_size))
    diff0 = (with_pe[0] - without[0]).view(2, 60, -1)
    torch.testing.assert_close(diff0, table[:, None, :].expand(2, 60, -1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(with_pe[1], without[1])  # a clip's first chunk gets zeros


def test_windows_feed_one_query_each_and_chunks_are_independent():
    aligner = tiny_captioner("plus").model.audio
    rng = np.random.default_rng(1)
    feats = torch.from_numpy(rng.standard_normal((2, 16, 3000)).astype(np.float32))
    with torch.no_grad():
        together = aligner(feats, [2])[0]
        apart = torch.cat([aligner(feats[:1], [1])[0], aligner(feats[1:], [1])[0]])
    torch.testing.assert_close(together, apart, atol=1e-5, rtol=1e-5)


def test_chunk_count_mismatch_is_an_error():
    aligner: AudioAligner = tiny_captioner("plus").model.audio
    with pytest.raises(ValueError):
        aligner(torch.zeros(2, 16, 3000), [1])
