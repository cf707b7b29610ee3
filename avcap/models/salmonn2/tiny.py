"""Random-init miniatures of both releases, written in the official layouts.

Same classes and code path as the real models, from shrunken configs: a build writes what the
authors' hub folders hold (config.json with the release's fields, official weight names, a
Qwen-style tokenizer with the special tokens the model needs, preprocessor / chat templates),
so loading one exercises exactly the key mapping a real checkpoint goes through. The 2+
miniature is written as two shards with an index; the first-release one as a single file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from avcap.models.salmonn2.checkpoints import save_official
from avcap.models.salmonn2.config import PLUS, V1, AudioAlignerConfig, V1Spec, plus_spec

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_VL_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
_CORPUS = [
    "You are a helpful assistant.", "system user assistant",
    "Please describe the video in detail, including what happens, in what order, who speaks and what sounds occur.",
    "A red square moves from left to right across a dark background while a steady tone plays.",
    "Then the tone stops and bursts of noise follow; the colour of the bar at the top changes every frame.",
    "A man speaks to a woman in a kitchen, music plays, a dog barks twice and a door closes.",
    "The camera pans slowly over a busy street at night with cars, lights and people walking.",
]
_VOCAB_SIZE = 512


def build_tokenizer(out_dir: Path, variant: str):
    """A byte-level BPE trained in-process on a few sentences, with the Qwen special tokens.

    As the 2+ release does for its audio model (``gen_audio_model.py``), ``<|audio_pad|>`` is
    added with ``add_tokens`` after the Qwen2.5-VL specials.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = QWEN_SPECIALS + (QWEN_VL_SPECIALS if variant == PLUS else [])
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=_VOCAB_SIZE, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=specials[1:])
    if variant == PLUS:
        tokenizer.add_tokens(["<|audio_pad|>"])
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(str(out_dir))
    settings_path = out_dir / "tokenizer_config.json"
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    settings["tokenizer_class"] = "Qwen2Tokenizer"  # as the Qwen checkpoints name it
    settings_path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    return tokenizer


def _llm_fields(tokenizer) -> dict:
    return dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False, use_cache=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), torch_dtype="float32",
        # At the usual 0.02 scale a random LLM decodes the same text for every clip; at 0.2 the
        # output depends on the input, so tests can tell clips (and batching mistakes) apart.
        initializer_range=0.2,
    )


def plus_config(tokenizer) -> dict:
    """A shrunken 2+ config.json with the release's fields (``configuration_qwen2_5_vl.py``)."""
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        architectures=["video_SALMONN2_plus"], model_type="qwen2_5_vl", **_llm_fields(tokenizer),
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        vision_token_id=ids("<|vision_pad|>"), audio_token_id=ids("<|audio_pad|>"),
        vision_config=dict(depth=2, hidden_size=32, hidden_act="silu", intermediate_size=64, num_heads=2,
                           in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           tokens_per_second=2, window_size=112, out_hidden_size=64, fullatt_block_indexes=[1]),
        audio_config=dict(
            model_type="whisper", num_mel_bins=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64,
            d_model=32, max_source_positions=1500, activation_function="gelu", second_per_window=0.5,
            second_stride=0.5,
            qformer_config=dict(model_type="bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                intermediate_size=64, hidden_act="gelu", layer_norm_eps=1e-12, encoder_width=32,
                                add_cross_attention=True, cross_attention_freq=1, query_length=1,
                                out_hidden_size=64),
        ),
    )


def v1_config(tokenizer) -> dict:
    """A shrunken first-release config.json: Qwen2 + LLaVA ``mm_*`` fields + ``model_args``."""
    return dict(
        architectures=["VideoSALMONN2ForCausalLM"], model_type="video_salmonn_2", **_llm_fields(tokenizer),
        mm_hidden_size=72, mm_projector_type="mlp2x_gelu", mm_vision_tower="google/siglip-so400m-patch14-384",
        mm_vision_select_layer=-2, mm_spatial_pool_stride=2, mm_spatial_pool_mode="max",
        mm_pooling_position="after", mm_newline_position="grid", mm_patch_merge_type="spatial_unpad",
        add_time_token=True, image_aspect_ratio="anyres",
        model_args=dict(audio_visual=True, whisper_path="openai/whisper-large-v3", num_speech_query_token=1,
                        window_level_Qformer=True, second_per_window=0.5, second_stride=0.5, use_final_linear=True,
                        mm_spatial_pool_mode="max", mm_spatial_pool_stride=2, mm_pooling_position="after"),
    )


def v1_tiny_spec(config: dict) -> V1Spec:
    """The miniature first release's sizes (the loader reads them back from tensor shapes)."""
    qwen2 = {k: v for k, v in config.items() if not k.startswith("mm_") and k not in (
        "model_args", "architectures", "model_type", "torch_dtype")}
    return V1Spec(
        qwen2=qwen2,
        # Widths are multiples of the real encoders' head widths (SigLIP 72, Whisper and BERT 64).
        vision=dict(hidden_size=72, patch_size=7, image_size=28, num_hidden_layers=2, intermediate_size=96,
                    num_attention_heads=1, layer_norm_eps=1e-6, vision_use_head=False, hidden_act="gelu_pytorch_tanh"),
        aligner=AudioAlignerConfig(
            whisper=dict(num_mel_bins=16, d_model=64, encoder_layers=1, encoder_attention_heads=1,
                         encoder_ffn_dim=128, max_source_positions=1500),
            llm_hidden_size=config["hidden_size"], qformer_hidden_size=64, qformer_layers=2, qformer_heads=1,
            qformer_intermediate_size=128, num_query_tokens=1, second_per_window=0.5, second_stride=0.5,
            ln_speech=True, final_linear=True, segment_position=True,
        ),
    )


def build_tiny(out_dir: str | Path, variant: str = PLUS, seed: int = 0) -> Path:
    """Write a random-init miniature (< 1M parameters) of ``variant`` ("plus" or "v1") to ``out_dir``."""
    from avcap.models.salmonn2.modeling_plus import SalmonnPlusModel
    from avcap.models.salmonn2.modeling_v1 import SalmonnV1Model

    if variant not in (PLUS, V1):
        raise ValueError(f"variant must be 'plus' or 'v1', got {variant!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out, variant)
    torch.manual_seed(seed)
    if variant == PLUS:
        config = plus_config(tokenizer)
        model = SalmonnPlusModel(plus_spec(config))
        preprocessor = dict(min_pixels=3136, max_pixels=12845056, patch_size=14, temporal_patch_size=2, merge_size=2,
                            image_mean=[0.48145466, 0.4578275, 0.40821073],
                            image_std=[0.26862954, 0.26130258, 0.27577711],
                            image_processor_type="Qwen2VLImageProcessor", processor_class="Qwen2_5_VLProcessor")
        (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2), encoding="utf-8")
        (out / "chat_template.json").write_text(json.dumps({"chat_template": CHATML_TEMPLATE}), encoding="utf-8")
        save_official(model, out, PLUS, shards=2)
    else:
        config = v1_config(tokenizer)
        model = SalmonnV1Model(v1_tiny_spec(config))
        save_official(model, out, V1, shards=1)
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out
