"""Random-init VideoLLaMA 2 miniatures in the release's two layouts (tiny.py dispatches here).

* ``videollama2``: VideoLLaMA2-7B's layout: ``Videollama2MistralForCausalLM`` (model_type
  ``videollama2_mistral``), CLIP tower, ``stc_connector`` (Conv3d padding 1), no audio; a
  LLaMA-style tokenizer (``<s>``, ``</s>``, ``[INST]`` template); two weight shards + index.
* ``videollama2-av``: VideoLLaMA2.1-7B-AV's layout: ``Videollama2Qwen2ForCausalLM``, SigLIP tower,
  ``stc_connector_v35`` (padding 0), BEATs + ``mm_projector_a``; a ChatML tokenizer; one file.

Same classes, names and config fields as the real checkpoints, at shrunken sizes; the tower
sizes go into ``vision_config`` / ``audio_config`` (avcap's fields; real configs name hub towers).
BEATs patches are 32x32 here (16x16 in the release) so 30 s of audio make 372 tokens, not 1,496.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from avcap.errors import ModelError

VARIANTS = ("videollama2", "videollama2-av")
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _tokenizer(variant: str):
    from avcap.models import tiny

    if variant == "videollama2":
        tok = tiny.train_tokenizer(["<s>", "</s>", "<unk>", "[INST]", "[/INST]"], {})
        tok.bos_token, tok.eos_token, tok.unk_token = "<s>", "</s>", "<unk>"
        tok.pad_token = "<unk>"  # what model_init sets when the tokenizer has no pad token
        tok.chat_template = MISTRAL_TEMPLATE
    else:
        tok = tiny.train_tokenizer(["<|im_start|>", "<|im_end|>"], {})
        tok.eos_token, tok.pad_token = "<|im_end|>", "<|endoftext|>"
        tok.chat_template = CHATML_TEMPLATE
    return tok


def tiny_config(variant: str, tokenizer) -> dict:
    """A shrunken config.json with the release's fields."""
    av = variant == "videollama2-av"
    llm = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=4096,
               rms_norm_eps=1e-6, rope_theta=1e6 if av else 1e4, tie_word_embeddings=False, use_cache=True,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               # 0.2 (not 0.02) so a random LLM's output depends on its input: tests can tell clips apart.
               initializer_range=0.2, torch_dtype="float32")
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=56, patch_size=14, layer_norm_eps=1e-5 if not av else 1e-6,
                  hidden_act="quick_gelu" if not av else "gelu_pytorch_tanh",
                  model_type="clip_vision_model" if not av else "siglip_vision_model")
    config = dict(
        architectures=["Videollama2Qwen2ForCausalLM" if av else "Videollama2MistralForCausalLM"],
        model_type="videollama2_qwen2" if av else "videollama2_mistral", **llm,
        mm_vision_tower="google/siglip-so400m-patch14-384" if av else "openai/clip-vit-large-patch14-336",
        mm_projector_type="stc_connector_v35" if av else "stc_connector", mm_hidden_size=32,
        mm_vision_select_layer=-2, mm_vision_select_feature="patch", image_aspect_ratio="pad", num_frames=8,
        use_mm_proj=True, tune_mm_mlp_adapter=False, freeze_mm_mlp_adapter=False, vision_config=vision,
    )
    if av:
        config.update(mm_audio_tower="BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt", mm_projector_a_type="mlp2x_gelu",
                      mm_hidden_size_a=32, hidden_size_a=64,
                      audio_config=dict(input_patch_size=32, embed_dim=16, encoder_layers=2, encoder_embed_dim=32,
                                        encoder_ffn_embed_dim=64, encoder_attention_heads=2, conv_pos=16,
                                        conv_pos_groups=4, num_buckets=32, max_distance=64, predictor_class=5))
    return config


def build_tiny(out_dir, variant: str = "videollama2", seed: int = 0) -> Path:
    """Write a random-init miniature (~0.5M parameters) of ``variant`` to ``out_dir``."""
    from avcap.models.videollama2 import VideoLLaMA2Model, spec_from_config
    from avcap.models.videollama2_checkpoints import save_official

    if variant not in VARIANTS:
        raise ModelError(f"videollama2: unknown tiny variant {variant!r}; choose {', '.join(VARIANTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(variant)
    config = tiny_config(variant, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VideoLLaMA2Model(spec_from_config(config, out)).eval()
        with torch.no_grad():  # BEATs' relative-bias gate starts at 1; vary it so the test sees it act
            for name, p in model.named_parameters():
                if name.endswith("grep_a"):
                    p.uniform_(0.5, 1.5)
    tokenizer.save_pretrained(str(out))
    save_official(model, out, shards=1 if variant == "videollama2-av" else 2)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return out


def reinit_for_training(model) -> None:
    """Initialise a random-init miniature's towers, STC connector and audio projector for training from scratch.

    Only for miniatures trained from nothing (``benchmarks/videollama2_learns.py --reinit``);
    released checkpoints load their weights and never pass here. With fine-tuning initialisation
    (transformers' normal std 0.02 on every weight, the regime the nano video-SALMONN 2 found
    blind) the tokens of a clip and of its blanked copy (black frames, silence) differ by only
    ~11 % (video) and ~3 % (audio) relative L2: timm's RegStage, BEATs and the MLPs keep
    PyTorch's fan-in biases, constants far larger than the 0.02-weight input terms, and each
    normalisation passes them on. Here every Linear / Conv gets PyTorch's fan-in initialisation
    (``reset_parameters``) with zero biases: the change is then ~50 % for both. Either half alone
    already gives ~40-60 % at these widths; gains on the patch embeddings (the nano's other
    fix) measured no better (SigLIP 0.38 -> 0.42 between two clips at gain 4; BEATs normalises
    right after its patch embedding, so a gain there changes nothing), so there are none.
    The LLM keeps its own ``initializer_range``.
    """
    from torch import nn

    parts = [model.vision, model.connector]
    if model.audio_encoder is not None:
        parts += [model.audio_encoder, model.audio_projector]
    for part in parts:
        for module in part.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                module.reset_parameters()
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
