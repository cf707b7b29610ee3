"""BEATs (Chen et al., 2023), the audio encoder of VideoLLaMA 2's audio branch, from its paper
and released checkpoint format.

Input: 128-bin Kaldi fbank [B, T, 128] (``avcap.models.fbank``), normalised with the AudioSet
statistics ``(x - 15.41663) / (2 * 6.55582)``. 16x16 patches (``patch_embedding``, no bias) give
[B, T/16 * 8, 512] tokens in time-major order, then LayerNorm, a projection to 768 and a
12-layer post-LN Transformer with DeepNorm residual scaling ``α = (2N)^(1/4)``, a grouped
convolutional position embedding (kernel 128, weight-normalised, GELU) and a gated relative
position bias (T5-style buckets shared by all layers, gated per layer and query as in WavLM).
Output: [B, tokens, 768] (``feature_only``; the AudioSet ``predictor`` head is loaded but unused).

Checkpoint format: a ``torch.save`` dict ``{"cfg": {...}, "model": state_dict}`` (unilm
release), or the same names under ``model.audio_tower.`` in a VideoLLaMA 2 checkpoint. The
parameter names here are the release's, so state dicts load unchanged. Differences kept on
purpose: layer drop (0.05 in the release, training only) is not applied, since avcap keeps the
encoder frozen; the attention uses one float32 softmax instead of the release's rescaling by
α = 32, which is the same function (it only guards fp16 overflow).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from avcap.errors import ModelError

FBANK_MEAN = 15.41663
FBANK_STD = 6.55582


@dataclass
class BEATsConfig:
    """The release's ``BEATsConfig`` fields that shape the network (defaults: BEATs_iter3+ AS2M cpt2)."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = True
    predictor_class: int = 527

    @classmethod
    def from_dict(cls, cfg: dict | None) -> BEATsConfig:
        """Known fields of a checkpoint's ``cfg`` (dropouts and training-only settings are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (cfg or {}).items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)

    def __post_init__(self) -> None:
        if self.activation_fn != "gelu":
            raise ModelError(f"BEATs: activation_fn {self.activation_fn!r} is not supported (only gelu)")
        if self.layer_norm_first and self.deep_norm:
            raise ModelError("BEATs: deep_norm needs post-LN (layer_norm_first false)")
        if self.encoder_embed_dim % self.encoder_attention_heads:
            raise ModelError("BEATs: encoder_embed_dim must be divisible by encoder_attention_heads")


def beats_num_tokens(fbank_frames: int, cfg: BEATsConfig, num_mel_bins: int = 128) -> int:
    """Tokens BEATs returns for ``fbank_frames`` frames (the patch conv drops partial patches)."""
    p = cfg.input_patch_size
    return (fbank_frames // p) * (num_mel_bins // p)


def relative_position_buckets(length: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """Bidirectional T5 buckets [L, L] of ``key - query``: exact below num_buckets/4, log-spaced up to max_distance."""
    pos = torch.arange(length)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    buckets = (rel > 0).long() * half
    rel = rel.abs()
    exact = half // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                     * (half - exact)).long()
    large = large.clamp(max=half - 1)
    return buckets + torch.where(rel < exact, rel, large)


class WeightNormConv1d(nn.Module):
    """Conv1d with weight ``g · v / ||v||`` (norm over all dims but 2, the kernel position: the release's
    ``weight_norm(conv, dim=2)``), stored as ``weight_g`` / ``weight_v`` like the checkpoint."""

    def __init__(self, channels: int, kernel: int, groups: int):
        super().__init__()
        self.padding, self.groups = kernel // 2, groups
        self.weight_v = nn.Parameter(torch.randn(channels, channels // groups, kernel) * (4 / (kernel * channels)) ** 0.5)
        self.weight_g = nn.Parameter(self.weight_v.detach().norm(dim=(0, 1), keepdim=True))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.weight_v.float()
        # rsqrt(Σv² + 1e-6) in float32: VideoLLaMA 2's weight_norm_fix (torch's weight_norm has no eps).
        weight = self.weight_g.float() * v * torch.rsqrt(v.pow(2).sum(dim=(0, 1), keepdim=True) + 1e-6)
        return F.conv1d(x, weight.to(x.dtype), self.bias, padding=self.padding, groups=self.groups)


class BEATsAttention(nn.Module):
    """Multi-head self-attention with the gated relative position bias (names as the release)."""

    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        dim, self.heads = cfg.encoder_embed_dim, cfg.encoder_attention_heads
        self.head_dim = dim // self.heads
        self.k_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.q_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.cfg = cfg
        if has_bias_table:
            self.relative_attention_bias = nn.Embedding(cfg.num_buckets, self.heads)
        if cfg.gru_rel_pos:
            self.grep_linear = nn.Linear(self.head_dim, 8)
            self.grep_a = nn.Parameter(torch.ones(1, self.heads, 1, 1))

    def position_bias(self, length: int) -> torch.Tensor:  # [H, L, L]
        buckets = relative_position_buckets(length, self.cfg.num_buckets, self.cfg.max_distance)
        return self.relative_attention_bias(buckets.to(self.relative_attention_bias.weight.device)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # x [B, L, D], bias [H, L, L]
        b, length, dim = x.shape
        q, k, v = (proj(x).view(b, length, self.heads, self.head_dim).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))  # [B, H, L, hd]
        mask = None
        if bias is not None:
            mask = bias.unsqueeze(0).float()
            if self.cfg.gru_rel_pos:
                # Per-query gate from the unscaled query (WavLM's gated relative position bias).
                gates = torch.sigmoid(self.grep_linear(q).view(b, self.heads, length, 2, 4).sum(-1))
                gate_a, gate_b = gates[..., :1], gates[..., 1:]
                mask = (gate_a * (gate_b * self.grep_a - 1.0) + 2.0) * mask
            mask = mask.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, length, dim))


class BEATsLayer(nn.Module):
    def __init__(self, cfg: BEATsConfig, has_bias_table: bool):
        super().__init__()
        dim = cfg.encoder_embed_dim
        self.self_attn = BEATsAttention(cfg, has_bias_table)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, cfg.encoder_ffn_embed_dim), nn.Linear(cfg.encoder_ffn_embed_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.layer_norm_first = cfg.layer_norm_first
        self.alpha = (2 * cfg.encoder_layers) ** 0.25 if cfg.deep_norm else 1.0  # DeepNorm residual scale

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.layer_norm_first:
            x = x + self.self_attn(self.self_attn_layer_norm(x), bias)
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x * self.alpha + self.self_attn(x, bias))
        return self.final_layer_norm(x * self.alpha + self.fc2(F.gelu(self.fc1(x))))


class BEATsEncoder(nn.Module):
    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        dim = cfg.encoder_embed_dim
        # ``pos_conv.0`` is the weight-normed conv; SamePad (drop the last step for an even kernel) and GELU follow.
        self.pos_conv = nn.Sequential(WeightNormConv1d(dim, cfg.conv_pos, cfg.conv_pos_groups))
        self.even_kernel = cfg.conv_pos % 2 == 0
        # Every layer uses layer 0's bias table (the release deletes the others' and shares layer 0's).
        self.layers = nn.ModuleList(BEATsLayer(cfg, has_bias_table=cfg.relative_position_embedding and i == 0)
                                    for i in range(cfg.encoder_layers))
        self.layer_norm = nn.LayerNorm(dim)
        self.cfg = cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.pos_conv(x.transpose(1, 2))
        if self.even_kernel:
            conv = conv[:, :, :-1]
        x = x + F.gelu(conv).transpose(1, 2)
        if not self.cfg.layer_norm_first:
            x = self.layer_norm(x)
        bias = self.layers[0].self_attn.position_bias(x.shape[1]) if self.cfg.relative_position_embedding else None
        for layer in self.layers:
            x = layer(x, bias)
        return self.layer_norm(x) if self.cfg.layer_norm_first else x


class BEATs(nn.Module):
    """fbank [B, T, 128] -> features [B, (T // p) * (128 // p), encoder_embed_dim]."""

    def __init__(self, cfg: BEATsConfig):
        super().__init__()
        self.cfg = cfg
        p = cfg.input_patch_size
        self.patch_embedding = nn.Conv2d(1, cfg.embed_dim, kernel_size=p, stride=p, bias=cfg.conv_bias)
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.post_extract_proj = (nn.Linear(cfg.embed_dim, cfg.encoder_embed_dim)
                                  if cfg.embed_dim != cfg.encoder_embed_dim else None)
        self.encoder = BEATsEncoder(cfg)
        self.predictor = nn.Linear(cfg.encoder_embed_dim, cfg.predictor_class) if cfg.finetuned_model else None

    @property
    def hidden_size(self) -> int:
        return self.cfg.encoder_embed_dim

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        x = (fbank - FBANK_MEAN) / (2 * FBANK_STD)
        x = self.patch_embedding(x.unsqueeze(1).to(self.patch_embedding.weight.dtype))  # [B, C, T', F']
        x = self.layer_norm(x.flatten(2).transpose(1, 2))  # time-major tokens [B, T'·F', C]
        if self.post_extract_proj is not None:
            x = self.post_extract_proj(x)
        return self.encoder(x)


def shared_bias_keys(state: dict, prefix: str = "") -> list[str]:
    """Copies of layer 0's bias table that a full ``state_dict`` of the release lists under every layer."""
    pattern = f"{prefix}encoder.layers."
    suffix = ".self_attn.relative_attention_bias.weight"
    return [k for k in state if k.startswith(pattern) and k.endswith(suffix)
            and not k.startswith(f"{pattern}0.")]


def load_beats_checkpoint(path: str | Path, device: str = "cpu") -> BEATs:
    """A BEATs from the unilm release file (``{"cfg": ..., "model": ...}``), read with ``weights_only``."""
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - unreadable or unsafe pickle: one line
        raise ModelError(f"{path}: cannot read the BEATs checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise ModelError(f"{path}: not a BEATs checkpoint (expected a dict with 'cfg' and 'model')")
    model = BEATs(BEATsConfig.from_dict(ckpt.get("cfg")))
    state = {k: v for k, v in ckpt["model"].items() if k not in shared_bias_keys(ckpt["model"])}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(state) & set(expected) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or shapes:
        raise ModelError(f"{path}: BEATs weights do not fit its cfg: {len(missing)} missing {missing[:3]}, "
                         f"{len(unexpected)} unexpected {unexpected[:3]}, {len(shapes)} mis-shaped {shapes[:3]}")
    model.load_state_dict(state)
    return model.to(device).eval()
