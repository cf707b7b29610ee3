"""The nano captioner: a random-init video-SALMONN 2 small enough to train on 2 CPU cores in < 1 h.

Same architecture and official first-release layout as the real model (paper §3.1): a SigLIP
vision tower, the 2-layer GELU projector with 2x2 max-pooling and row newlines, a
Whisper-style audio encoder, the window-level Q-Former (0.5 s windows, one query each), and a
Qwen2 LLM, so ``load_captioner`` reads it through the same key mapping as a real checkpoint.
The first release is used rather than 2+ because its SigLIP path has a fixed token count per
frame (no Qwen2.5-VL temporal patch pairs), so frames sampled 0.5 s apart stay separate
tokens -- the synthetic world's events can be that close (see ``avcap.synth``).

The tokenizer is word-level: its vocabulary is every word a synthetic caption can hold
(``caption_vocabulary``), the punctuation and prompt words, and the Qwen special tokens, so
a caption of ~80 words is ~90 tokens and the LM head is tiny. An ``avcap.json`` beside the
weights carries the frame policy (2 fps at a small size, not the release's 1 fps), which
``Salmonn2Captioner`` loading honours and training copies into every derived checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from avcap.models.salmonn2.config import V1, AudioAlignerConfig, V1Spec

# Frame policy of the nano model: events can be 0.5 s apart, so 2 fps; 12 s videos -> 24 frames.
NANO_FRAME_POLICY = {"fps": 2.0, "max_frames": 24, "size": 64}
NANO_SIZES = {
    "llm": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2),
    # 56 px frames in 7 px patches: 8x8 patches, pooled to 4x4 plus 4 newlines = 20 tokens per frame.
    "vision": dict(hidden_size=72, patch_size=7, image_size=56, num_hidden_layers=2, intermediate_size=144),
    # Widths are multiples of the real encoders' head widths (SigLIP 72, Whisper and BERT 64), which
    # the loader uses to infer head counts from tensor shapes.
    "whisper": dict(num_mel_bins=32, d_model=64, encoder_layers=2, encoder_attention_heads=1, encoder_ffn_dim=128,
                    max_source_positions=1500),
    "qformer": dict(hidden_size=64, layers=2, heads=1, intermediate_size=128),
}
_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_UNK = "<unk>"
# Words of the system turn, the chat roles and the recipes' default prompts (avcap.models.base,
# avcap.train.configs, the synthetic rows' own prompt): without them prompts would be all <unk>.
_PROMPT_TEXT = (
    "You are a helpful assistant. system user assistant "
    "Describe the video in detail. Please describe the video in detail, including what happens, "
    "in what order, who speaks and what sounds occur. Transcribe or describe the audio."
)
_PUNCTUATION = [".", ",", "!", "?", ";", ":", "'", '"', "-"]


def nano_vocabulary() -> list[str]:
    """Token strings in id order: specials, <unk>, punctuation, then every caption/prompt word."""
    from avcap.synth.language import caption_vocabulary, words_of

    words = sorted(set(caption_vocabulary()) | set(words_of(_PROMPT_TEXT)))
    return _SPECIALS + [_UNK] + _PUNCTUATION + words


def build_nano_tokenizer(out_dir: Path):
    """A word-level tokenizer (lower-cased, punctuation split off) with the Qwen special tokens.

    Written by hand with the ``tokenizers`` library because no released tokenizer has a
    vocabulary this small; decoding joins words with spaces, which the symbolic judge's
    tokenizer (``avcap.synth.parse``) reads the same as the ground-truth spelling.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from avcap.models.salmonn2.tiny import CHATML_TEMPLATE

    vocab = {token: i for i, token in enumerate(nano_vocabulary())}
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token=_UNK))
    word_level.normalizer = normalizers.Lowercase()
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        unk_token=_UNK, additional_special_tokens=_SPECIALS[1:])
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def nano_config(tokenizer) -> dict:
    """First-release config.json fields (as ``tiny.v1_config``) at the nano sizes."""
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        architectures=["VideoSALMONN2ForCausalLM"], model_type="video_salmonn_2", vocab_size=len(tokenizer),
        **NANO_SIZES["llm"], hidden_act="silu", max_position_embeddings=4096, rms_norm_eps=1e-6,
        rope_theta=10000.0, tie_word_embeddings=False, use_cache=True, bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|im_end|>"), torch_dtype="float32", initializer_range=0.02,
        mm_hidden_size=NANO_SIZES["vision"]["hidden_size"], mm_projector_type="mlp2x_gelu",
        mm_vision_tower="nano-siglip", mm_vision_select_layer=-2, mm_spatial_pool_stride=2,
        mm_spatial_pool_mode="max", mm_pooling_position="after", mm_newline_position="grid",
        mm_patch_merge_type="spatial_unpad", add_time_token=True, image_aspect_ratio="anyres",
        model_args=dict(audio_visual=True, whisper_path="nano-whisper", num_speech_query_token=1,
                        window_level_Qformer=True, second_per_window=0.5, second_stride=0.5, use_final_linear=True,
                        mm_spatial_pool_mode="max", mm_spatial_pool_stride=2, mm_pooling_position="after"),
    )


def nano_spec(config: dict) -> V1Spec:
    """The nano sizes as a V1Spec (what ``config.v1_spec`` reads back from the tensor shapes)."""
    qwen2 = {k: v for k, v in config.items() if not k.startswith("mm_") and k not in (
        "model_args", "architectures", "model_type", "torch_dtype")}
    vision = dict(NANO_SIZES["vision"], num_attention_heads=NANO_SIZES["vision"]["hidden_size"] // 72,
                  layer_norm_eps=1e-6, vision_use_head=False, hidden_act="gelu_pytorch_tanh")
    qf = NANO_SIZES["qformer"]
    aligner = AudioAlignerConfig(
        whisper=dict(NANO_SIZES["whisper"]), llm_hidden_size=config["hidden_size"], qformer_hidden_size=qf["hidden_size"],
        qformer_layers=qf["layers"], qformer_heads=qf["heads"], qformer_intermediate_size=qf["intermediate_size"],
        num_query_tokens=1, second_per_window=0.5, second_stride=0.5, ln_speech=True, final_linear=True,
        segment_position=True,
    )
    return V1Spec(qwen2=qwen2, vision=vision, aligner=aligner)


def parameter_counts(model) -> dict[str, int]:
    """Parameters per group (llm, visual_encoder, visual_aligner, audio_encoder, audio_aligner) and total."""
    counts = {name: sum(p.numel() for p in params) for name, params in model.parameter_groups().items()}
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


def build_nano(out_dir: str | Path, seed: int = 0) -> Path:
    """Write a random-init nano video-SALMONN 2 (official first-release layout + avcap.json) to ``out_dir``."""
    import torch

    from avcap.models.salmonn2.checkpoints import save_official
    from avcap.models.salmonn2.modeling_v1 import SalmonnV1Model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_nano_tokenizer(out)
    config = nano_config(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SalmonnV1Model(nano_spec(config))
    save_official(model, out, V1, shards=1)
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    settings = {"frame_policy": dict(NANO_FRAME_POLICY), "parameters": parameter_counts(model)}
    (out / "avcap.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return out


def main() -> None:
    """``python -m avcap.models.salmonn2.nano OUT [SEED]``: build and print the parameter counts."""
    import sys

    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m avcap.models.salmonn2.nano OUT_DIR [SEED]")
    out = build_nano(sys.argv[1], seed=int(sys.argv[2]) if len(sys.argv) == 3 else 0)
    print(json.dumps(json.loads((out / "avcap.json").read_text(encoding="utf-8"))["parameters"]))


if __name__ == "__main__":
    main()
