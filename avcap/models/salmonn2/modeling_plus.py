"""video-SALMONN 2+: transformers' Qwen2.5-VL with the audio branch beside its vision tower.

The release subclasses a copy of Qwen2.5-VL (``video_SALMONN2_plus``: ``visual``, ``audio``,
``model``, ``lm_head``); here the visual LLM is transformers' own
``Qwen2_5_VLForConditionalGeneration`` (sdpa/eager attention, no flash-attn) and ``audio`` is
:class:`AudioAligner`. Video and audio features are scattered into the embeddings at their
``<|video_pad|>`` / ``<|audio_pad|>`` tokens, and the M-RoPE positions of ``rope.py`` are passed
explicitly, so ``generate`` runs with its KV cache and continues positions from the last one.
"""

from __future__ import annotations

import torch
from torch import nn

from avcap.errors import ModelError
from avcap.models.salmonn2.attention import use_varlen_vision_attention
from avcap.models.salmonn2.audio import AudioAligner
from avcap.models.salmonn2.config import PlusSpec
from avcap.models.salmonn2.processing import Salmonn2Batch


def _unique(params) -> list[nn.Parameter]:
    seen, out = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def follow_default_dtype(config) -> None:
    """Clear ``dtype`` on a config and its sub-configs: transformers builds sub-models in
    ``config.dtype`` (float32 in a saved config) rather than torch's default, and the loader
    builds the whole model in the dtype it was asked for."""
    for cfg in [config] + [getattr(config, name) for name in getattr(config, "sub_configs", {}) or {}]:
        if getattr(cfg, "dtype", None) is not None:
            cfg.dtype = None


def trains(module: nn.Module) -> bool:
    """Whether backward must reach into ``module``; frozen encoders then run without a graph,
    as the releases run theirs (``torch.no_grad`` around the vision tower)."""
    return torch.is_grad_enabled() and any(p.requires_grad for p in module.parameters())


def scatter_features(embeds: torch.Tensor, mask: torch.Tensor, features: torch.Tensor, what: str) -> torch.Tensor:
    """Put ``features`` [N, D] at the N positions where ``mask`` [B, L] is True, in order."""
    count = int(mask.sum())
    if count != features.shape[0]:
        raise ModelError(f"{what}: {count} placeholder tokens but {features.shape[0]} feature vectors")
    if count == 0:
        return embeds
    return embeds.masked_scatter(mask.unsqueeze(-1), features.to(embeds.dtype))


class SalmonnPlusModel(nn.Module):
    """``llm`` (Qwen2.5-VL: vision tower, merger, LLM) + ``audio`` (Whisper, Q-Former, projection)."""

    variant = "plus"

    def __init__(self, spec: PlusSpec, attn_implementation: str = "sdpa"):
        super().__init__()
        from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        self.spec = spec
        config = Qwen2_5_VLConfig(**spec.qwen)
        config._attn_implementation = attn_implementation
        follow_default_dtype(config)
        for sub in ("text_config", "vision_config"):
            getattr(config, sub)._attn_implementation = attn_implementation
        self.llm = Qwen2_5_VLForConditionalGeneration(config)
        if attn_implementation != "eager":  # one varlen call per block instead of one per window
            use_varlen_vision_attention(self.llm.model.visual)
        self.audio = AudioAligner(spec.aligner, attn_implementation)

    # Parameter groups, for the training recipes (paper §3.2: encoders and LLM frozen, aligners trained).
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        visual = self.llm.model.visual
        merger = list(visual.merger.parameters())
        merger_ids = {id(p) for p in merger}
        return {
            "llm": _unique(list(self.llm.model.language_model.parameters()) + list(self.llm.lm_head.parameters())),
            "visual_encoder": [p for p in visual.parameters() if id(p) not in merger_ids],
            "visual_aligner": merger,
            "audio_encoder": self.audio.encoder_parameters(),
            "audio_aligner": self.audio.aligner_parameters(),
        }

    @property
    def dtype(self) -> torch.dtype:
        return self.audio.proj.weight.dtype

    def embed(self, batch: Salmonn2Batch) -> torch.Tensor:
        """Input embeddings [B, L, D] with the video and audio features in place (eqs. 5-6)."""
        embeds = self.llm.get_input_embeddings()(batch.input_ids)
        if batch.video_grid_thw is None:  # only audio-only / image clips: no video for the vision tower
            video_features = embeds.new_zeros((0, embeds.shape[-1]))
        else:
            with torch.set_grad_enabled(trains(self.llm.model.visual)):
                video = self.llm.model.get_video_features(batch.visual.to(self.dtype), batch.video_grid_thw)
            video_features = torch.cat(list(video.pooler_output), dim=0)
        embeds = scatter_features(embeds, batch.input_ids == self.spec.video_token_id, video_features, "video")
        if batch.image_grid_thw is not None:  # image rows: Qwen2.5-VL's own image path
            with torch.set_grad_enabled(trains(self.llm.model.visual)):
                image = self.llm.model.get_image_features(batch.images.to(self.dtype), batch.image_grid_thw)
            embeds = scatter_features(embeds, batch.input_ids == self.spec.image_token_id,
                                      torch.cat(list(image.pooler_output), dim=0), "image")
        audio = self.audio(batch.audio_features, batch.chunks_per_clip)
        return scatter_features(embeds, batch.input_ids == self.spec.audio_token_id, torch.cat(audio, dim=0), "audio")

    def forward(self, batch: Salmonn2Batch, logits_to_keep: int = 0) -> torch.Tensor:
        """Logits [B, L or logits_to_keep, V] of one full pass (no cache), for scoring and training."""
        out = self.llm(inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask,
                       position_ids=batch.position_ids, use_cache=False, logits_to_keep=logits_to_keep)
        return out.logits

    @torch.no_grad()
    def generate(self, batch: Salmonn2Batch, **generate_kwargs) -> torch.Tensor:
        """New token ids [B * num_return_sequences, T] (clip-major), via transformers ``generate``."""
        out = self.llm.generate(
            input_ids=batch.input_ids, inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask,
            position_ids=batch.position_ids, **generate_kwargs,
        )
        return out[:, batch.input_ids.shape[1]:]
