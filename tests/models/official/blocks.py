"""Plain re-creations of the blocks the official trees are made of (see the package docstring)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float, mrope_section=None):
    """cos, sin [B, L, head_dim]. ``positions`` [B, L] (1D RoPE) or [3, B, L] (M-RoPE: the frequency
    bands split by ``mrope_section``, twice, band i taking its angles from axis i % 3)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if positions.dim() == 2:
        positions = positions[None]
    angles = positions[..., None].float() * inv_freq  # [A, B, L, head_dim / 2]
    emb = torch.cat([angles, angles], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    if mrope_section is None:
        return cos[0], sin[0]
    sections = list(mrope_section) * 2
    pick = lambda t: torch.cat([part[i % 3] for i, part in enumerate(t.split(sections, dim=-1))], dim=-1)  # noqa: E731
    return pick(cos), pick(sin)


class DecoderAttention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=True)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=True)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, mask):
        b, n, _ = x.shape
        q = self.q_proj(x).view(b, n, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = cos[:, None], sin[:, None]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask
        out = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, n, -1))


class DecoderMLP(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = DecoderAttention(cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"])
        self.mlp = DecoderMLP(cfg["hidden_size"], cfg["intermediate_size"])
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen2Decoder(nn.Module):
    """``model.*`` of both releases: embed_tokens, layers, norm (Qwen2 / Qwen2.5)."""

    def __init__(self, cfg, mrope_section=None):
        super().__init__()
        self.cfg, self.mrope_section = cfg, mrope_section
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, embeds, positions):
        """One unpadded sequence: embeds [1, L, D], positions [1, L] or [3, 1, L] -> hidden [1, L, D]."""
        n = embeds.shape[1]
        mask = torch.full((n, n), float("-inf")).triu(1)
        head_dim = self.cfg["hidden_size"] // self.cfg["num_attention_heads"]
        cos, sin = rope_cos_sin(positions, head_dim, self.cfg["rope_theta"], self.mrope_section)
        x = embeds
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)


class EncoderAttention(nn.Module):
    """Whisper / SigLIP self-attention (Whisper's k_proj has no bias)."""

    def __init__(self, width, heads, k_bias=True):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.q_proj, self.v_proj = nn.Linear(width, width), nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width, bias=k_bias)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x):
        b, n, _ = x.shape
        split = lambda t: t.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        weights = torch.softmax((q @ k.transpose(-1, -2)) * self.head_dim**-0.5, dim=-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(b, n, -1))


class WhisperLayer(nn.Module):
    def __init__(self, width, heads, ffn):
        super().__init__()
        self.self_attn = EncoderAttention(width, heads, k_bias=False)
        self.self_attn_layer_norm = nn.LayerNorm(width)
        self.fc1, self.fc2 = nn.Linear(width, ffn), nn.Linear(ffn, width)
        self.final_layer_norm = nn.LayerNorm(width)

    def forward(self, x):
        x = x + self.self_attn(self.self_attn_layer_norm(x))
        return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))


class WhisperEncoder(nn.Module):
    """conv1, conv2, embed_positions, layers, layer_norm (the Whisper-large-v3 encoder, shrunken)."""

    def __init__(self, mels, width, layers, heads, ffn, positions=1500):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.embed_positions = nn.Embedding(positions, width)
        self.layers = nn.ModuleList([WhisperLayer(width, heads, ffn) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(width)

    def forward(self, features):  # [C, mels, 3000] -> [C, 1500, width]
        x = F.gelu(self.conv2(F.gelu(self.conv1(features)))).permute(0, 2, 1)
        x = x + self.embed_positions.weight
        for layer in self.layers:
            x = layer(x)
        return self.layer_norm(x)


def unfold_windows(hidden: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """[B, T, C] -> [B * L, window, C] exactly as the releases do it, with ``F.unfold``."""
    b, _, c = hidden.shape
    cols = F.unfold(hidden.transpose(1, 2).unsqueeze(2), kernel_size=(1, window), stride=(1, stride))
    cols = cols.view(b, -1, window, cols.shape[-1])  # [B, C, window, L]
    return cols.permute(0, 3, 2, 1).reshape(-1, window, c)


class BertSelf(nn.Module):
    def __init__(self, width, heads, kv_width):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.query = nn.Linear(width, width)
        self.key, self.value = nn.Linear(kv_width, width), nn.Linear(kv_width, width)

    def forward(self, x, context):
        split = lambda t: t.view(t.shape[0], t.shape[1], self.heads, self.head_dim).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(context)), split(self.value(context))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), dim=-1)
        return (probs @ v).permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[1], -1)


class BertDenseNorm(nn.Module):
    def __init__(self, inner, width, eps):
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(inner, width), nn.LayerNorm(width, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, width, heads, kv_width, eps):
        super().__init__()
        self.self = BertSelf(width, heads, kv_width)
        self.output = BertDenseNorm(width, width, eps)

    def forward(self, x, context):
        return self.output(self.self(x, context), x)


class BertIntermediate(nn.Module):
    def __init__(self, width, inner):
        super().__init__()
        self.dense = nn.Linear(width, inner)

    def forward(self, x):
        return F.gelu(self.dense(x))


class QFormerLayer(nn.Module):
    def __init__(self, q, cross):
        super().__init__()
        w, eps = q["hidden_size"], q.get("layer_norm_eps", 1e-12)
        self.attention = BertAttention(w, q["num_attention_heads"], w, eps)
        if cross:
            self.crossattention = BertAttention(w, q["num_attention_heads"], q["encoder_width"], eps)
        self.intermediate_query = BertIntermediate(w, q["intermediate_size"])
        self.output_query = BertDenseNorm(q["intermediate_size"], w, eps)

    def forward(self, x, windows):
        x = self.attention(x, x)
        if hasattr(self, "crossattention"):
            x = self.crossattention(x, windows)
        return self.output_query(self.intermediate_query(x), x)


class QFormerBert(nn.Module):
    """``<qformer>.bert``: embeddings.LayerNorm + encoder.layer (the text branch removed, as released)."""

    def __init__(self, q):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.LayerNorm = nn.LayerNorm(q["hidden_size"], eps=q.get("layer_norm_eps", 1e-12))
        self.encoder = nn.Module()
        freq = q.get("cross_attention_freq", 1)
        self.encoder.layer = nn.ModuleList([QFormerLayer(q, i % freq == 0) for i in range(q["num_hidden_layers"])])

    def forward(self, queries, windows):
        x = self.embeddings.LayerNorm(queries)
        for layer in self.encoder.layer:
            x = layer(x, windows)
        return x


class QFormer(nn.Module):
    def __init__(self, q):
        super().__init__()
        self.bert = QFormerBert(q)


class SiglipLayer(nn.Module):
    def __init__(self, width, heads, inner, eps):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(width, eps=eps), nn.LayerNorm(width, eps=eps)
        self.self_attn = EncoderAttention(width, heads)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(width, inner), nn.Linear(inner, width)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.layer_norm2(x)), approximate="tanh"))


class SiglipVisionModel(nn.Module):
    """``vision_model``: embeddings, encoder.layers, post_layernorm (its last layer and head removed)."""

    def __init__(self, width, patch, image, layers, heads, inner, eps=1e-6):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.patch_embedding = nn.Conv2d(3, width, kernel_size=patch, stride=patch)
        self.embeddings.position_embedding = nn.Embedding((image // patch) ** 2, width)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([SiglipLayer(width, heads, inner, eps) for _ in range(layers)])
        self.post_layernorm = nn.LayerNorm(width, eps=eps)

    def forward(self, pixels):  # the release feeds hidden_states[-1]: the last layer, before post_layernorm
        x = self.embeddings.patch_embedding(pixels).flatten(2).transpose(1, 2)
        x = x + self.embeddings.position_embedding.weight
        for layer in self.encoder.layers:
            x = layer(x)
        return x
