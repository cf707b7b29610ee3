"""The audio branch: Whisper encoder over 30 s chunks, window-level Q-Former, projection (eqs. 1-3).

Built from transformers' own ``WhisperEncoder`` and ``Blip2QFormerModel`` (the BERT-style
Q-Former of BLIP-2, the same layer structure as the release's ``BertLMHeadModel`` with its
text branch removed: self-attention, cross-attention in every layer, ``intermediate_query`` /
``output_query``). Only the cutting of encoder frames into windows and the segment embedding
are written here, because no library does them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from avcap.media.audio import iter_whisper_chunks
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ
from avcap.models.salmonn2.config import AudioAlignerConfig
from avcap.models.salmonn2.interleave import segment_position_embedding


def whisper_feature_extractor(cfg: AudioAlignerConfig):
    """Whisper's log-mel front end, built locally (the 2+ release builds it the same way in code)."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(
        feature_size=cfg.num_mel_bins, sampling_rate=AUDIO_SAMPLE_RATE_HZ, hop_length=160,
        chunk_length=int(cfg.chunk_s), n_fft=400,
    )


# Chunks per feature-extractor call: the extractor's batched STFT holds ~6 float32 copies of its
# input, so one call over a 2 h track (240 chunks) peaked at 4 GB; 2 chunks (the count of a
# 1 min clip) bound it to ~25 MB with 128 mel bins.
FEATURE_CHUNKS_PER_CALL = 2
# Chunks per Whisper + Q-Former pass in ``AudioAligner.forward``: 4 min of audio (Whisper-large
# activations of 8 chunks: ~60 MB a tensor in float32, where 240 chunks took 1.8 GB). A batch of up
# to 8 chunks runs in one pass as before; past that the Q-Former may round differently in the last
# float bit on a multi-threaded CPU or a GPU (its kernels block by batch size, as any batch change does).
ENCODER_CHUNKS_PER_CALL = 8


def audio_features(audio: np.ndarray, extractor, chunk_s: float) -> np.ndarray:
    """Log-mel features of each 30 s chunk, shape [C, mel bins, 3000]; C = ceil(T/30) >= 1.

    The last chunk is zero-padded, as the release pads each slice to 30 s before Whisper.
    Chunks go through the extractor a few at a time (each chunk's features do not depend on
    the others in its call), read window by window from a long, spilled track.
    """
    out = None
    done = 0
    for block in iter_whisper_chunks(audio, FEATURE_CHUNKS_PER_CALL, AUDIO_SAMPLE_RATE_HZ, chunk_s):
        feats = extractor(list(block), sampling_rate=AUDIO_SAMPLE_RATE_HZ, return_tensors="np")["input_features"]
        if out is None:
            count = max(1, math.ceil(audio.shape[0] / block.shape[1]))
            out = np.empty((count, *feats.shape[1:]), dtype=np.float32)
        out[done : done + feats.shape[0]] = feats
        done += feats.shape[0]
    return out


def cut_windows(hidden: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """[C, T, D] encoder frames -> [C * L, window, D] windows, L = ⌊(T - window)/stride⌋ + 1.

    Same windows, in the same order, as the release's ``F.unfold`` with kernel (1, window).
    """
    chunks, _, dim = hidden.shape
    windows = hidden.unfold(1, window, stride)  # [C, L, D, window]
    return windows.permute(0, 1, 3, 2).reshape(-1, window, dim)


class AudioAligner(nn.Module):
    """Audio tokens for the LLM: ``tokens_per_chunk`` (60) vectors of the LLM width per chunk."""

    def __init__(self, cfg: AudioAlignerConfig, attn_implementation: str = "sdpa"):
        super().__init__()
        from transformers import Blip2QFormerModel
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        self.cfg = cfg
        whisper_cfg = cfg.whisper_config()
        whisper_cfg._attn_implementation = attn_implementation
        self.encoder = WhisperEncoder(whisper_cfg)
        d_model = int(cfg.whisper["d_model"])
        self.ln_speech = nn.LayerNorm(d_model) if cfg.ln_speech else None
        qformer_cfg = cfg.qformer_config()
        qformer_cfg._attn_implementation = "sdpa" if attn_implementation != "eager" else "eager"
        self.qformer = Blip2QFormerModel(qformer_cfg)
        self.query_tokens = nn.Parameter(torch.zeros(1, cfg.num_query_tokens, cfg.qformer_hidden_size))
        nn.init.normal_(self.query_tokens, std=0.02)
        self.proj = nn.Linear(cfg.qformer_hidden_size, cfg.llm_hidden_size)
        self.final_linear = (
            nn.Sequential(nn.Linear(cfg.llm_hidden_size, cfg.llm_hidden_size), nn.GELU(),
                          nn.Linear(cfg.llm_hidden_size, cfg.llm_hidden_size))
            if cfg.final_linear else None
        )

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Whisper (and the first release's ``ln_speech``, frozen with it in the release's training)."""
        params = list(self.encoder.parameters())
        return params + (list(self.ln_speech.parameters()) if self.ln_speech is not None else [])

    def aligner_parameters(self) -> list[nn.Parameter]:
        """What the paper trains in audio alignment: Q-Former, its queries, projection (+ final_linear)."""
        params = list(self.qformer.parameters()) + [self.query_tokens] + list(self.proj.parameters())
        return params + (list(self.final_linear.parameters()) if self.final_linear is not None else [])

    def forward(self, features: torch.Tensor, chunks_per_clip: list[int]) -> list[torch.Tensor]:
        """features [C, mel bins, frames] for all clips -> one [chunks * 60, LLM width] tensor per clip."""
        if sum(chunks_per_clip) != features.shape[0]:
            raise ValueError(f"{features.shape[0]} chunks of features for chunk counts {chunks_per_clip}")
        if features.shape[0] == 0:
            return [features.new_zeros((0, self.cfg.llm_hidden_size)) for _ in chunks_per_clip]
        # A few chunks per pass: every chunk's tokens depend on that chunk alone, and one pass over a
        # 2 h track (240 chunks) held 240 x 1500 encoder frames per layer at once.
        step = ENCODER_CHUNKS_PER_CALL
        parts = [self._chunk_tokens(features[i : i + step]) for i in range(0, features.shape[0], step)]
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)  # [C, tokens_per_chunk, D]
        per_clip = list(torch.split(out, list(chunks_per_clip), dim=0))
        if self.cfg.segment_position:
            per_clip = [tokens + self.segment_embedding(tokens.shape[0], tokens) for tokens in per_clip]
        return [tokens.reshape(-1, tokens.shape[-1]) for tokens in per_clip]

    def _chunk_tokens(self, features: torch.Tensor) -> torch.Tensor:
        """[c, mel bins, frames] -> [c, tokens_per_chunk, LLM width]: Whisper, windows, Q-Former, projection."""
        dtype = self.proj.weight.dtype
        # A frozen Whisper (the paper's setting) runs without a graph: only the aligner needs one.
        frozen = not any(p.requires_grad for p in self.encoder_parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            hidden = self.encoder(features.to(dtype)).last_hidden_state  # [c, 1500, d_model] (eq. 2's Z_j)
            if self.ln_speech is not None:
                hidden = self.ln_speech(hidden)
        windows = cut_windows(hidden, self.cfg.window_frames, self.cfg.stride_frames)
        queries = self.query_tokens.to(windows.dtype).expand(windows.shape[0], -1, -1)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=windows).last_hidden_state
        out = self.proj(out.to(dtype))
        if self.final_linear is not None:
            out = self.final_linear(out)
        return out.reshape(features.shape[0], -1, out.shape[-1])

    def segment_embedding(self, num_chunks: int, like: torch.Tensor) -> torch.Tensor:
        """[chunks, 1, D] segment embedding (eq. 1), one row broadcast over a chunk's tokens."""
        table = segment_position_embedding(num_chunks, like.shape[-1])
        return torch.from_numpy(table).to(device=like.device, dtype=like.dtype)[:, None, :]
