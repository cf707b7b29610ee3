"""On CUDA (opt-in: ``pytest -m gpu``): bf16 by default, batched == single in fp32, finite log-probs."""

from __future__ import annotations

import pytest
import torch

from avcap.models import GenerationConfig, TrainExample, load_captioner

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

FAMILIES = ["tiny:omni", "tiny:qwen3-omni", "tiny:qwen2-vl", "tiny:qwen2.5-vl", "tiny:qwen3-vl", "tiny:tarsier2"]
PROMPT = "Describe the video."


@pytest.mark.parametrize("name", FAMILIES)
def test_cuda_defaults_to_bf16_and_batches_match_single_calls_in_fp32(name, clips_for):
    bf16 = load_captioner(name, device="cuda")
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    clips = clips_for(bf16)
    captions = bf16.caption(clips, PROMPT, GenerationConfig(max_new_tokens=8))
    assert len(captions) == 4 and all(isinstance(c, str) for c in captions)
    logps = bf16.sequence_logps([TrainExample(c, PROMPT, "a red square") for c in clips[:2]])
    assert logps.shape == (2,) and torch.isfinite(logps).all() and logps.requires_grad

    fp32 = load_captioner(name, device="cuda", dtype="fp32")
    greedy = GenerationConfig(max_new_tokens=8)
    assert fp32.caption(clips, PROMPT, greedy) == [fp32.caption([c], PROMPT, greedy)[0] for c in clips]
