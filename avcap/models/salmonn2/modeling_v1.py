"""video-SALMONN 2 (first release): LLaVA-OneVision-style visual LLM plus the audio branch.

Visual path per frame, as the release's ``llava_arch`` / ``video_salmonn_2.py`` run it:
SigLIP without its last layer and head (features before ``post_layernorm``) -> 2-layer GELU
MLP projector -> 2x2 max-pool (``mm_pooling_position`` "after") -> one ``image_newline`` after
each row (``mm_newline_position`` "grid"): 13 x 14 = 182 tokens for a 384x384 frame.
The LLM is transformers' ``Qwen2ForCausalLM``; features go into the embedding slots the
processor marked, and positions are the usual 1D ones (left padding accounted for).
"""

from __future__ import annotations

import torch
from torch import nn

from avcap.models.salmonn2.audio import AudioAligner
from avcap.models.salmonn2.config import V1Spec
from avcap.models.salmonn2.modeling_plus import _unique, follow_default_dtype, scatter_features, trains
from avcap.models.salmonn2.processing import AUDIO_SLOT, VISUAL_SLOT, ZERO_SLOT, Salmonn2Batch


class SalmonnV1Model(nn.Module):
    """``llm`` (Qwen2), ``vision`` (SigLIP), ``mm_projector``, ``image_newline``, ``audio``."""

    variant = "v1"

    def __init__(self, spec: V1Spec, attn_implementation: str = "sdpa"):
        super().__init__()
        from transformers import Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel

        self.spec = spec
        config = Qwen2Config(**spec.qwen2)
        config._attn_implementation = attn_implementation
        follow_default_dtype(config)
        self.llm = Qwen2ForCausalLM(config)
        vision_config = SiglipVisionConfig(**spec.vision)
        vision_config._attn_implementation = attn_implementation
        follow_default_dtype(vision_config)
        tower = SiglipVisionModel(vision_config)
        # transformers 5 flattened SiglipVisionModel; 4.x nests the same modules in ``vision_model``.
        self.vision = getattr(tower, "vision_model", tower)
        hidden = config.hidden_size
        layers: list[nn.Module] = [nn.Linear(int(spec.vision["hidden_size"]), hidden)]
        for _ in range(1, spec.projector_depth):
            layers += [nn.GELU(), nn.Linear(hidden, hidden)]
        self.mm_projector = nn.Sequential(*layers)
        self.image_newline = nn.Parameter(torch.randn(hidden) / hidden**0.5)
        self.audio = AudioAligner(spec.aligner, attn_implementation)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "llm": _unique(self.llm.parameters()),
            "visual_encoder": list(self.vision.parameters()),
            "visual_aligner": list(self.mm_projector.parameters()) + [self.image_newline],
            "audio_encoder": self.audio.encoder_parameters(),
            "audio_aligner": self.audio.aligner_parameters(),
        }

    @property
    def dtype(self) -> torch.dtype:
        return self.audio.proj.weight.dtype

    def _pool(self, features: torch.Tensor) -> torch.Tensor:
        """[frames, side², C] -> [frames, pooled², C] (the release's ``get_2dPool``, floor mode)."""
        frames, patches, dim = features.shape
        side = self.spec.patches_per_side
        grid = features.view(frames, side, side, dim).permute(0, 3, 1, 2)
        pool = nn.functional.max_pool2d if self.spec.pool_mode == "max" else nn.functional.avg_pool2d
        grid = pool(grid, self.spec.pool_stride) if self.spec.pool_stride > 1 else grid
        return grid.permute(0, 2, 3, 1).reshape(frames, -1, dim)

    def frame_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [N, 3, S, S] -> visual tokens [N * tokens_per_frame, D], frame by frame."""
        with torch.set_grad_enabled(trains(self.vision)):
            embeddings = self.vision.embeddings(pixel_values.to(self.dtype))
            hidden = self.vision.encoder(inputs_embeds=embeddings).last_hidden_state
        if not self.spec.pool_after_projector:
            hidden = self._pool(hidden)
        hidden = self.mm_projector(hidden)
        if self.spec.pool_after_projector:
            hidden = self._pool(hidden)
        frames, _, dim = hidden.shape
        side = self.spec.pooled_side
        grid = hidden.view(frames, side, side, dim)
        newline = self.image_newline.to(grid.dtype).view(1, 1, 1, dim).expand(frames, side, 1, dim)
        return torch.cat([grid, newline], dim=2).reshape(-1, dim)

    def embed(self, batch: Salmonn2Batch) -> torch.Tensor:
        ids = batch.input_ids
        is_visual, is_audio, is_zero = ids == VISUAL_SLOT, ids == AUDIO_SLOT, ids == ZERO_SLOT
        text_ids = ids.masked_fill(is_visual | is_audio | is_zero, 0)
        embeds = self.llm.get_input_embeddings()(text_ids)
        if bool(is_zero.any()):  # the zero padding of the release's time tokens (pad_sequence)
            embeds = embeds.masked_fill(is_zero.unsqueeze(-1), 0.0)
        # Audio-only clips bring no pixels; a batch of only those skips the vision tower.
        visual = (self.frame_features(batch.visual) if batch.visual.shape[0] else embeds.new_zeros((0, embeds.shape[-1])))
        embeds = scatter_features(embeds, is_visual, visual, "visual")
        audio = self.audio(batch.audio_features, batch.chunks_per_clip)
        if batch.audio_order is not None:  # the release's layout repeats some tokens (interleave.py)
            audio = [tokens[order.to(tokens.device)] for tokens, order in zip(audio, batch.audio_order)]
        return scatter_features(embeds, is_audio, torch.cat(audio, dim=0), "audio")

    def forward(self, batch: Salmonn2Batch, logits_to_keep: int = 0) -> torch.Tensor:
        out = self.llm(inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask,
                       position_ids=batch.position_ids, use_cache=False, logits_to_keep=logits_to_keep)
        return out.logits

    @torch.no_grad()
    def generate(self, batch: Salmonn2Batch, **generate_kwargs) -> torch.Tensor:
        # The slot ids are not in the vocabulary: generation sees only the embeddings, and
        # positions come from the attention mask (transformers' default for left padding).
        return self.llm.generate(inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask,
                                 **generate_kwargs)
