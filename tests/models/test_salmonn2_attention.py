"""The varlen attention used by the 2+ vision tower equals transformers' one-call-per-window path."""

from __future__ import annotations

import torch

from avcap.models.salmonn2.attention import NAME, padded_varlen_sdpa

from .conftest_salmonn2 import make_clip, tiny_captioner


def test_padded_varlen_equals_a_loop_over_segments():
    torch.manual_seed(0)
    q, k, v = (torch.randn(23, 3, 8) for _ in range(3))
    cu = torch.tensor([0, 5, 6, 16, 23])
    out = padded_varlen_sdpa(q, k, v, cu, scale=0.3)
    for a, b in zip(cu[:-1].tolist(), cu[1:].tolist()):
        ref = torch.nn.functional.scaled_dot_product_attention(
            q[a:b].transpose(0, 1), k[a:b].transpose(0, 1), v[a:b].transpose(0, 1), scale=0.3).transpose(0, 1)
        torch.testing.assert_close(out[a:b], ref, atol=1e-6, rtol=1e-5)


def test_vision_tower_output_is_unchanged():
    captioner = tiny_captioner("plus")
    tower = captioner.model.llm.model.visual
    assert tower.config._attn_implementation == NAME
    clips = [make_clip(9, 9.0, seed=1, size=(150, 200)), make_clip(3, 3.0, seed=2)]
    batch = captioner.processor(clips, ["Describe."] * 2)
    with torch.no_grad():
        ours = tower(batch.visual, grid_thw=batch.video_grid_thw).pooler_output
        tower.config._attn_implementation = "sdpa"
        try:
            reference = tower(batch.visual, grid_thw=batch.video_grid_thw).pooler_output
        finally:
            tower.config._attn_implementation = NAME
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
