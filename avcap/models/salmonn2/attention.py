"""Variable-length attention for the Qwen2.5-VL vision tower without the flash-attn package.

The tower attends within windows (and, in 4 blocks, within frames), given as ``cu_seqlens``.
Under "sdpa"/"eager" transformers runs one attention call per window: a long video has
thousands of windows per block, so the tower becomes a Python loop that batching cannot
amortise. The function registered here takes the varlen path instead: PyTorch's own
``varlen_attn`` (flash kernels inside torch) on CUDA in half precision, otherwise one SDPA
call over all windows padded to the longest, with padded keys masked -- the same result.
"""

from __future__ import annotations

import torch

NAME = "avcap_varlen_flash"  # "flash" in the name selects the tower's cu_seqlens code path


def padded_varlen_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor,
                       scale: float | None) -> torch.Tensor:
    """Attention within each segment of ``cu_seqlens``; q, k, v and the result are [L, H, D]."""
    starts, lengths = cu_seqlens[:-1].long(), (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    width = int(lengths.max())
    offsets = torch.arange(width, device=q.device)
    valid = offsets[None, :] < lengths[:, None]  # [N, width]
    index = (starts[:, None] + offsets[None, :]).clamp(max=q.shape[0] - 1)

    def pack(x: torch.Tensor) -> torch.Tensor:  # [L, H, D] -> [N, H, width, D]
        return x[index].transpose(1, 2)

    mask = valid[:, None, None, :]  # keys beyond a segment's end are masked
    out = torch.nn.functional.scaled_dot_product_attention(pack(q), pack(k), pack(v), attn_mask=mask, scale=scale)
    return out.transpose(1, 2)[valid]  # [L, H, D], segments back in order


def varlen_attention(module, query, key, value, attention_mask=None, scaling=None, dropout=0.0,
                     cu_seq_lens_q=None, cu_seq_lens_k=None, max_length_q=None, max_length_k=None,
                     is_causal=False, **kwargs):
    """The AttentionInterface entry: query/key/value [1, H, L, D] -> ([1, L, H, D], None)."""
    if cu_seq_lens_q is None or is_causal or attention_mask is not None:
        raise ValueError(f"{NAME} only serves non-causal cu_seqlens attention (the Qwen2.5-VL vision tower)")
    q, k, v = (x[0].transpose(0, 1) for x in (query, key, value))  # [L, H, D]
    if q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        try:
            from torch.nn.attention.varlen import varlen_attn
        except ImportError:
            varlen_attn = None
        if varlen_attn is not None:
            cu = cu_seq_lens_q.to(torch.int32)
            longest = int(max_length_q) if max_length_q is not None else int((cu[1:] - cu[:-1]).max())
            return varlen_attn(q, k, v, cu, cu, longest, longest, scale=scaling).unsqueeze(0), None
    return padded_varlen_sdpa(q, k, v, cu_seq_lens_q, scaling).unsqueeze(0), None


def use_varlen_vision_attention(vision_tower: torch.nn.Module) -> None:
    """Point a Qwen2.5-VL vision tower at :func:`varlen_attention` (registered once, globally)."""
    from transformers import AttentionInterface

    if NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(NAME, varlen_attention)
    vision_tower.config._attn_implementation = NAME
