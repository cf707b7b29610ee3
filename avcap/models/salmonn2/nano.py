"""The nano captioner: a random-init video-SALMONN 2 small enough to train on 2 CPU cores in < 1 h.

Same architecture and official first-release layout as the real model (paper §3.1): a SigLIP
vision tower, the 2-layer GELU projector with 2x2 max-pooling and row newlines, a
Whisper-style audio encoder, the window-level Q-Former (0.5 s windows, one query each), and a
Qwen2 LLM, so ``load_captioner`` reads it through the same key mapping as a real checkpoint.
The first release is used rather than 2+ because its SigLIP path has a fixed token count per
frame (no Qwen2.5-VL temporal patch pairs), so frames sampled 0.5 s apart stay separate
tokens -- the synthetic world's events can be that close (see ``avcap.synth``).

The paper's SFT adapts a *pretrained* LLM with a LoRA. A random-init LLM behind a LoRA cannot even
keep the objects of its own caption consistent (SFT on it plateaus at the unconditional loss), so
``build_nano`` gives the nano LLM a short language pretraining on synthetic captions drawn from
their own seed (``TEXT_SEED``, never a video set's): the stand-in for the real LLM's pretraining.
Vision and audio are still learned from scratch in SFT (``train_groups``).

The tokenizer is word-level: its vocabulary is every word a synthetic caption can hold
(``caption_vocabulary``), the punctuation and prompt words, and the Qwen special tokens, so
a caption of ~80 words is ~90 tokens and the LM head is tiny. An ``avcap.json`` beside the
weights carries the frame policy (2 fps at a small size, not the release's 1 fps), which
``Salmonn2Captioner`` loading honours and training copies into every derived checkpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from avcap.models.base import DEFAULT_PROMPT
from avcap.models.salmonn2.config import V1, AudioAlignerConfig, V1Spec

# Frame policy of the nano model: events can be 0.5 s apart, so 2 fps; 12 s videos -> 24 frames.
NANO_FRAME_POLICY = {"fps": 2.0, "max_frames": 24, "size": 64}
NANO_POOL_STRIDE = 8
NANO_SIZES = {
    "llm": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2),
    # 56 px frames in 7 px patches: 8x8 patches, max-pooled to one token plus its newline per frame
    # (mm_spatial_pool_stride 8 in the config). At the release's 2x2 pooling (16 + 4 tokens per
    # frame) the caption loss never came to depend on the frames within our CPU budget: an
    # object fills 1-2 of ~400 visual tokens, and SFT settled on the text prior first.
    "vision": dict(hidden_size=72, patch_size=7, image_size=56, num_hidden_layers=2, intermediate_size=144),
    # Widths are multiples of the real encoders' head widths (SigLIP 72, Whisper and BERT 64), which
    # the loader uses to infer head counts from tensor shapes.
    "whisper": dict(num_mel_bins=32, d_model=64, encoder_layers=2, encoder_attention_heads=1, encoder_ffn_dim=128,
                    max_source_positions=1500),
    "qformer": dict(hidden_size=64, layers=2, heads=1, intermediate_size=128),
}
# Seed of the text-only captions of the language pretraining (video sets use 0-3).
TEXT_SEED = 10
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
_WORD_RE = re.compile(r"[A-Za-z]+")


def _cased_words(text: str) -> set[str]:
    """The words of ``text`` as written, lower-cased and capitalised (a word can start a sentence)."""
    words = set(_WORD_RE.findall(text))
    return words | {w.lower() for w in words} | {w.capitalize() for w in words}


def nano_vocabulary() -> list[str]:
    """Token strings in id order: specials, <unk>, punctuation, then every caption/prompt word.

    Case-sensitive ("A" and "a", "STOP" for on-screen text are separate tokens), so a decoded
    caption reads as the ground truth is written ("A green circle appears. Then, a beep sounds.")
    -- the text that LLM judges and people read.
    """
    from avcap.synth.language import caption_sentences

    words = _cased_words(_PROMPT_TEXT)
    for sentence in caption_sentences():
        words |= _cased_words(sentence)
    return _SPECIALS + [_UNK] + _PUNCTUATION + sorted(words)


def build_nano_tokenizer(out_dir: Path):
    """A word-level, case-sensitive tokenizer (punctuation split off) with the Qwen special tokens.

    Written by hand with the ``tokenizers`` library because no released tokenizer has a
    vocabulary this small. Decoding joins words with spaces and then removes the space before
    punctuation (transformers' ``clean_up_tokenization_spaces``), which gives back the
    ground-truth spelling exactly.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from avcap.models.salmonn2.tiny import CHATML_TEMPLATE

    vocab = {token: i for i, token in enumerate(nano_vocabulary())}
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token=_UNK))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        unk_token=_UNK, additional_special_tokens=_SPECIALS[1:],
                                        clean_up_tokenization_spaces=True)
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
        mm_vision_tower="nano-siglip", mm_vision_select_layer=-2, mm_spatial_pool_stride=NANO_POOL_STRIDE,
        mm_spatial_pool_mode="max", mm_pooling_position="after", mm_newline_position="grid",
        mm_patch_merge_type="spatial_unpad", add_time_token=True, image_aspect_ratio="anyres",
        model_args=dict(audio_visual=True, whisper_path="nano-whisper", num_speech_query_token=1,
                        window_level_Qformer=True, second_per_window=0.5, second_stride=0.5, use_final_linear=True,
                        mm_spatial_pool_mode="max", mm_spatial_pool_stride=NANO_POOL_STRIDE, mm_pooling_position="after"),
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


# Gains on the input-carrying paths of the random-init audio encoder and Q-Former (see below).
AUDIO_CONV_GAIN = 4.0
QFORMER_CROSS_GAIN = 4.0


def reinit_audio_path(model) -> None:
    """Initialise the nano audio path so that its tokens depend on the sound from the first step.

    transformers initialises Whisper and the Q-Former for fine-tuning pretrained weights (normal,
    std 0.02), and at the nano widths what reaches the LLM is then almost constant: a clip's
    audio tokens differed from its muted copy's by 1.1 % (relative L2), because each stage adds a
    constant larger than its input-dependent part -- Whisper's sinusoidal positions (fixed) over a
    small convolution output, the Q-Former's learned query over a small cross-attention output,
    and final_linear's biases over everything. Training could not recover from that: an
    alignment run on sound-only captions stayed at the text prior's loss (0.59 nats/token).
    Here every Linear/Conv gets PyTorch's fan-in initialisation with zero biases, and the two
    paths that carry the input are scaled up (``AUDIO_CONV_GAIN`` on Whisper's convolutions,
    ``QFORMER_CROSS_GAIN`` on the cross-attention output): the tokens then differ from the muted
    copy's by 42 %, and vary over time by 47 % of their mean.
    """
    import torch
    from torch import nn

    audio = model.audio
    linear_like = [*audio.encoder.modules(), *audio.qformer.modules(), audio.proj]
    if audio.final_linear is not None:
        linear_like += list(audio.final_linear.modules())
    for module in linear_like:
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            module.reset_parameters()
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    with torch.no_grad():
        audio.encoder.conv1.weight.mul_(AUDIO_CONV_GAIN)
        audio.encoder.conv2.weight.mul_(AUDIO_CONV_GAIN)
        for layer in audio.qformer.encoder.layer:
            if getattr(layer, "crossattention", None) is not None:
                layer.crossattention.output.dense.weight.mul_(QFORMER_CROSS_GAIN)


def pretrain_language(llm, tokenizer, *, n_captions: int, steps: int, seed: int = 0, batch_size: int = 32,
                      learning_rate: float = 1e-3) -> dict:
    """Train the nano LLM (all weights) as a language model on ``n_captions`` synthetic captions.

    The captions come from scripts of ``TEXT_SEED`` -- text only, no video is rendered -- and
    end with the chat end token the captioner stops on. Runs on transformers' Trainer on the
    CPU; returns the first and last logged losses.
    """
    import tempfile

    from torch.utils.data import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from avcap.synth.language import caption_from_script
    from avcap.synth.sampler import sample_script

    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    texts = [caption_from_script(sample_script((TEXT_SEED, i))) for i in range(n_captions)]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] + [eos] for text in texts]

    class Captions(Dataset):
        def __len__(self):
            return len(ids)

        def __getitem__(self, index):
            return {"input_ids": ids[index]}

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=batch_size, learning_rate=learning_rate,
            lr_scheduler_type="cosine", warmup_steps=max(1, steps // 20), weight_decay=0.0, logging_steps=max(1, steps // 10),
            save_strategy="no", report_to="none", use_cpu=True, seed=seed, disable_tqdm=True,
        )
        trainer = Trainer(model=llm, args=args, train_dataset=Captions(),
                          data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
        trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    llm.eval()
    return {"captions": n_captions, "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}


def build_nano(out_dir: str | Path, seed: int = 0, *, text_captions: int = 0, text_steps: int = 0) -> Path:
    """Write a nano video-SALMONN 2 (official first-release layout + avcap.json) to ``out_dir``.

    Random-init, except that ``text_steps > 0`` first pretrains its LLM on ``text_captions``
    synthetic captions (:func:`pretrain_language`).
    """
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
        reinit_audio_path(model)
    # Trained by avcap with eq. 4's layout and avcap's default prompt: both recorded, so the
    # first release's own defaults (interleave "release", its caption prompt) do not apply to it.
    settings = {"frame_policy": dict(NANO_FRAME_POLICY), "interleave": "paper", "prompt": DEFAULT_PROMPT,
                "parameters": parameter_counts(model)}
    if text_steps > 0:
        settings["language_pretraining"] = pretrain_language(model.llm, tokenizer, n_captions=text_captions,
                                                             steps=text_steps, seed=seed)
    save_official(model, out, V1, shards=1)
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (out / "avcap.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m avcap.models.salmonn2.nano OUT [--seed S] [--text-captions N --text-steps K]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m avcap.models.salmonn2.nano",
                                     description="Build the nano video-SALMONN 2 (official first-release layout).")
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and data-order seed")
    parser.add_argument("--text-captions", type=int, default=20000, help="synthetic captions for the LLM's pretraining")
    parser.add_argument("--text-steps", type=int, default=0, help="language pretraining steps (0: random-init LLM)")
    args = parser.parse_args(argv)
    out = build_nano(args.out, seed=args.seed, text_captions=args.text_captions, text_steps=args.text_steps)
    settings = json.loads((out / "avcap.json").read_text(encoding="utf-8"))
    print(json.dumps({k: settings[k] for k in ("parameters", "language_pretraining") if k in settings}))


if __name__ == "__main__":
    main()
