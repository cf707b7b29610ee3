"""BEATs: buckets by brute force, the encoder against a literal re-statement of the release's forward,
and the unilm checkpoint format."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from avcap.errors import ModelError
from avcap.models.beats import (
    BEATs,
    BEATsConfig,
    beats_num_tokens,
    load_beats_checkpoint,
    relative_position_buckets,
)

CFG = BEATsConfig(input_patch_size=16, embed_dim=12, encoder_layers=2, encoder_embed_dim=16, encoder_ffn_embed_dim=24,
                  encoder_attention_heads=2, conv_pos=8, conv_pos_groups=4, num_buckets=16, max_distance=24,
                  predictor_class=3)


def _bucket(rel: int, num_buckets: int, max_distance: int) -> int:
    half = num_buckets // 2
    out = half if rel > 0 else 0
    rel = abs(rel)
    exact = half // 2
    if rel < exact:
        return out + rel
    return out + min(half - 1, exact + int(math.log(rel / exact) / math.log(max_distance / exact) * (half - exact)))


def test_relative_position_buckets_match_the_formula_element_by_element():
    got = relative_position_buckets(40, 16, 24)
    for q in range(40):
        for k in range(40):
            assert got[q, k] == _bucket(k - q, 16, 24), (q, k)
    assert got[0, 0] == 0 and got[0, 39] == 15 and got[39, 0] == 7  # saturate at each half's end


def _reference(model: BEATs, fbank: torch.Tensor) -> torch.Tensor:
    """The release's ``BEATs.extract_features``: time-first layout, q·scaling/α then (·−max)·α, α = 32."""
    cfg, sd = model.cfg, model.state_dict()
    x = (fbank - 15.41663) / (2 * 6.55582)
    x = F.conv2d(x.unsqueeze(1), sd["patch_embedding.weight"], stride=cfg.input_patch_size)
    x = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2)
    x = F.layer_norm(x, (cfg.embed_dim,), sd["layer_norm.weight"], sd["layer_norm.bias"])
    x = F.linear(x, sd["post_extract_proj.weight"], sd["post_extract_proj.bias"])
    g, v = sd["encoder.pos_conv.0.weight_g"], sd["encoder.pos_conv.0.weight_v"]
    w = g * v * torch.rsqrt(v.pow(2).sum(dim=(0, 1), keepdim=True) + 1e-6)
    conv = F.conv1d(x.transpose(1, 2), w, sd["encoder.pos_conv.0.bias"], padding=cfg.conv_pos // 2, groups=cfg.conv_pos_groups)
    x = x + F.gelu(conv[:, :, :-1]).transpose(1, 2)
    x = F.layer_norm(x, (16,), sd["encoder.layer_norm.weight"], sd["encoder.layer_norm.bias"])
    x = x.transpose(0, 1)  # T x B x C
    t, b, c = x.shape
    h, hd = cfg.encoder_attention_heads, c // cfg.encoder_attention_heads
    buckets = torch.tensor([[_bucket(k - q, cfg.num_buckets, cfg.max_distance) for k in range(t)] for q in range(t)])
    bias = sd["encoder.layers.0.self_attn.relative_attention_bias.weight"][buckets].permute(2, 0, 1)
    bias = bias.unsqueeze(0).repeat(b, 1, 1, 1).view(b * h, t, t)
    alpha_dn = (2 * cfg.encoder_layers) ** 0.25
    for i in range(cfg.encoder_layers):
        def p(n, i=i):
            return sd[f"encoder.layers.{i}.{n}"]

        def lin(z, n, p=p):
            return F.linear(z, p(f"{n}.weight"), p(f"{n}.bias"))

        scaling, alpha = hd ** -0.5, 32
        q = lin(x, "self_attn.q_proj") * scaling / alpha
        k, vv = lin(x, "self_attn.k_proj"), lin(x, "self_attn.v_proj")
        q, k, vv = (z.contiguous().view(t, b * h, hd).transpose(0, 1) for z in (q, k, vv))
        att = torch.bmm(q, k.transpose(1, 2))
        att = (att - att.max(dim=-1, keepdim=True)[0]) * alpha
        query = q.view(b, h, t, hd) * alpha / scaling
        gate_a, gate_b = torch.sigmoid(lin(query, "self_attn.grep_linear").view(b, h, t, 2, 4).sum(-1)).chunk(2, dim=-1)
        gate = gate_a * (gate_b * p("self_attn.grep_a") - 1.0) + 2.0
        att = att + (gate.view(b * h, t, 1) * bias).view(att.shape)
        out = torch.bmm(F.softmax(att, dim=-1), vv).transpose(0, 1).contiguous().view(t, b, c)
        out = lin(out, "self_attn.out_proj")
        x = F.layer_norm(x * alpha_dn + out, (c,), p("self_attn_layer_norm.weight"), p("self_attn_layer_norm.bias"))
        ffn = lin(F.gelu(lin(x, "fc1")), "fc2")
        x = F.layer_norm(x * alpha_dn + ffn, (c,), p("final_layer_norm.weight"), p("final_layer_norm.bias"))
    return x.transpose(0, 1)


def _model(seed: int = 0) -> BEATs:
    torch.manual_seed(seed)
    model = BEATs(CFG).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("grep_a", "weight_g")):
                p.uniform_(0.5, 1.5)  # away from their initial constants, so the test sees them act
    return model


def test_encoder_matches_the_releases_forward():
    model = _model()
    fbank = torch.randn(2, 100, 128) * 4 + 15
    with torch.no_grad():
        ours, reference = model(fbank), _reference(model, fbank)
    assert ours.shape == (2, beats_num_tokens(100, CFG), 16) == (2, 6 * 8, 16)
    assert torch.allclose(ours, reference, atol=1e-4), (ours - reference).abs().max()


def test_unilm_checkpoint_format_loads_with_its_cfg(tmp_path):
    model = _model(seed=3)
    state = model.state_dict()
    # A full state_dict of the release lists the shared bias table under every layer.
    state["encoder.layers.1.self_attn.relative_attention_bias.weight"] = state[
        "encoder.layers.0.self_attn.relative_attention_bias.weight"]
    cfg = {**CFG.to_dict(), "dropout": 0.1, "encoder_layerdrop": 0.05, "layer_wise_gradient_decay_ratio": 0.6}
    torch.save({"cfg": cfg, "model": state}, tmp_path / "beats.pt")
    loaded = load_beats_checkpoint(tmp_path / "beats.pt")
    assert loaded.cfg == CFG
    fbank = torch.randn(1, 64, 128)
    with torch.no_grad():
        assert torch.equal(loaded(fbank), model(fbank))
    del state["predictor.bias"]
    torch.save({"cfg": cfg, "model": state}, tmp_path / "bad.pt")
    with pytest.raises(ModelError, match=r"1 missing \['predictor.bias'\]"):
        load_beats_checkpoint(tmp_path / "bad.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read the BEATs checkpoint"):
        load_beats_checkpoint(tmp_path / "junk.pt")
