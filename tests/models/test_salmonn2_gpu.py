"""GPU checks (opt-in: ``pytest -m gpu``; they need CUDA): the miniatures on the GPU, and the full-size
2+ 7B architecture (random weights, no download) captioning long clips in a batch."""

from __future__ import annotations

import json
import time

import pytest
import torch

from avcap.models.base import GenerationConfig, TrainExample

from .conftest_salmonn2 import make_clip, tiny_dir

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
PROMPT = "Please describe the video in detail."


def clips(n_frames=(3, 1, 6, 2), durations=(3.0, 0.8, 31.0, 2.0), size=(48, 64)):
    return [make_clip(n, d, seed=i, size=size) for i, (n, d) in enumerate(zip(n_frames, durations))]


@pytest.mark.parametrize("variant", ["plus", "v1"])
def test_tiny_on_gpu_fp32_matches_cpu_behaviour(variant):
    from avcap.models.salmonn2 import load

    captioner = load(str(tiny_dir(variant)), device="cuda", dtype="fp32")
    greedy = GenerationConfig(max_new_tokens=8)
    batch = clips()
    assert captioner.caption(batch, PROMPT, greedy) == [captioner.caption([c], PROMPT, greedy)[0] for c in batch]
    examples = [TrainExample(c, PROMPT, "A red square moves while a tone plays.") for c in batch]
    with torch.no_grad():
        together = captioner.sequence_logps(examples)
        apart = torch.cat([captioner.sequence_logps([ex]) for ex in examples])
    torch.testing.assert_close(together, apart, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("variant", ["plus", "v1"])
def test_tiny_on_gpu_bf16_captions_and_backprops(variant):
    from avcap.models.salmonn2 import load

    captioner = load(str(tiny_dir(variant)), device="cuda", dtype="bf16")
    assert captioner.dtype == torch.bfloat16
    assert len(captioner.caption(clips(), PROMPT, GenerationConfig(max_new_tokens=8, temperature=0.7,
                                                                    num_samples=2, seed=0))) == 8
    logps = captioner.sequence_logps([TrainExample(c, PROMPT, "A tone.") for c in clips()])
    assert torch.isfinite(logps).all()
    logps.sum().backward()
    assert captioner.model.audio.query_tokens.grad is not None


def full_size_plus_config() -> dict:
    """The 2+ 7B architecture (Qwen2.5-VL-7B + Whisper-large-v3 encoder + the release's default Q-Former)."""
    config = json.loads((tiny_dir("plus") / "config.json").read_text())  # token ids of the tiny tokenizer
    config.update(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                  num_attention_heads=28, num_key_value_heads=4, rope_scaling={"type": "mrope",
                                                                               "mrope_section": [16, 24, 24]},
                  torch_dtype="bfloat16", initializer_range=0.02)
    config["vision_config"] = dict(depth=32, hidden_size=1280, hidden_act="silu", intermediate_size=3420, num_heads=16,
                                   in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                                   tokens_per_second=2, window_size=112, out_hidden_size=3584,
                                   fullatt_block_indexes=[7, 15, 23, 31])
    config["audio_config"] = dict(second_per_window=0.5, second_stride=0.5, qformer_config={})  # release defaults
    return config


def test_full_size_plus_architecture_batches_long_clips():
    from transformers import AutoTokenizer

    from avcap.models.hf_common import default_dtype
    from avcap.models.salmonn2.captioner import Salmonn2Captioner
    from avcap.models.salmonn2.config import plus_spec
    from avcap.models.salmonn2.modeling_plus import SalmonnPlusModel
    from avcap.models.salmonn2.processing import PlusProcessor, PlusVideoSettings

    spec = plus_spec(full_size_plus_config())
    assert spec.aligner.tokens_per_chunk == 60 and spec.aligner.whisper["d_model"] == 1280
    with default_dtype(torch.bfloat16), torch.device("cuda"):
        model = SalmonnPlusModel(spec).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_dir("plus")))
    captioner = Salmonn2Captioner("full-size-plus", model, PlusProcessor(tokenizer, spec, PlusVideoSettings()),
                                  tokenizer, {})
    n_params = sum(p.numel() for p in model.parameters())
    # 60 s clips at the salmonn2 policy's 1 fps, 384-pixel short side; two 30 s audio chunks each.
    batch = clips(n_frames=(60, 45, 60, 30), durations=(60.0, 45.0, 59.0, 30.0), size=(384, 512))
    greedy = GenerationConfig(max_new_tokens=32)
    captioner.caption(batch[:1], PROMPT, GenerationConfig(max_new_tokens=2))  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    batched = captioner.caption(batch, PROMPT, greedy)
    torch.cuda.synchronize()
    t_batch = time.perf_counter() - start
    peak_batch = torch.cuda.max_memory_allocated() / 2**30
    start = time.perf_counter()
    singles = [captioner.caption([c], PROMPT, greedy)[0] for c in batch]
    torch.cuda.synchronize()
    t_single = time.perf_counter() - start
    inputs = captioner.processor(batch, [PROMPT] * 4)
    print(f"\nfull-size 2+: {n_params / 1e9:.2f} B params; prompt lengths {inputs.attention_mask.sum(1).tolist()}; "
          f"batch of 4: {t_batch:.2f} s, one by one: {t_single:.2f} s (ratio {t_single / t_batch:.2f}x); "
          f"peak {peak_batch:.1f} GiB; greedy batch == singles for {sum(a == b for a, b in zip(batched, singles))}/4")
    assert len(batched) == 4 and peak_batch < 75
    # What the line above prints is what is asserted: left-padded batched greedy decoding gives each
    # clip the caption it gets alone (a mismatch would mean the padding leaks into attention).
    assert batched == singles, [(a[:60], b[:60]) for a, b in zip(batched, singles) if a != b]

    for p in model.parameters():
        p.requires_grad_(False)
    for p in captioner.audio_aligner_parameters():
        p.requires_grad_(True)
    model.llm.gradient_checkpointing_enable()
    model.train()  # checkpointing acts in training mode only
    torch.cuda.reset_peak_memory_stats()
    logps = captioner.sequence_logps([TrainExample(c, PROMPT, "A man speaks while music plays.") for c in batch[:2]])
    logps.sum().backward()
    print(f"sequence_logps + backward, 2 clips: peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB, "
          f"logps {logps.tolist()}")
    assert torch.isfinite(logps).all() and model.audio.proj.weight.grad is not None
