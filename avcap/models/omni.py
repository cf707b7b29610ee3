"""Qwen2.5-Omni and Qwen3-Omni captioners: the thinker only, with the video's own audio track.

AVoCaDO's checkpoints are full Qwen2.5-Omni models (thinker + talker + token2wav); avcap loads
only the thinker (``Qwen2_5OmniThinkerForConditionalGeneration``; transformers strips the
``thinker.`` prefix and the talker is never built), which is what AVoCaDO's ``disable_talker()``
leaves running. Audio-in-video follows the official ``use_audio_in_video`` semantics: the
processor interleaves the clip's 16 kHz audio tokens with its video tokens by time, and the
model's 3-D RoPE aligns them. The clip's decoded frames and audio are passed straight to the
processor, so no file is decoded twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avcap.errors import ModelError
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, Clip
from avcap.models.hf_common import (
    PixelBudget,
    QwenCaptioner,
    check_loaded,
    clip_frame_rate,
    read_json,
    read_settings,
    resolve_dtype,
    video_input,
    video_size_kwargs,
)

FAMILY = "omni"

# AVoCaDO's inference script: Qwen2.5-Omni's own system prompt, audio in video, 512*28*28
# pixels per frame (qwen-omni-utils' 128*28*28 minimum), greedy, 2048 new tokens. Its 20,070,400
# total is set in the environment after qwen-omni-utils has read its limits, so the run uses the
# library's 128,000*28*28*0.9 (policies.QwenPolicy; "omni-paper" gives the stated total).
QWEN25_OMNI_SYSTEM = (
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
    "auditory and visual inputs, as well as generating text and speech."
)
AVOCADO_PROMPT = (
    "Provide a comprehensive description of all the content in the video, leaving out no details. "
    "Be sure to include as much of the audio information as possible, and ensure that your "
    "descriptions of the audio and video are closely aligned."
)
AVOCADO_PIXELS = PixelBudget(min_pixels=128 * 28 * 28, max_pixels=401_408, total_pixels=int(128_000 * 28 * 28 * 0.9))
AVOCADO_MAX_NEW_TOKENS = 2048

# model_type -> variant; a full model (thinker + talker) or a thinker-only checkpoint.
_MODEL_TYPES = {
    "qwen2_5_omni": "qwen2.5-omni",
    "qwen2_5_omni_thinker": "qwen2.5-omni",
    "qwen3_omni_moe": "qwen3-omni",
    "qwen3_omni_moe_thinker": "qwen3-omni",
}
_ARCH_PREFIXES = {"Qwen2_5Omni": "qwen2.5-omni", "Qwen3OmniMoe": "qwen3-omni"}


def _variant(config: dict) -> str | None:
    if config.get("model_type") in _MODEL_TYPES:
        return _MODEL_TYPES[config["model_type"]]
    for arch in config.get("architectures") or []:
        for prefix, variant in _ARCH_PREFIXES.items():
            if arch.startswith(prefix):
                return variant
    return None


def detect(config: dict) -> bool:
    """True for Qwen2.5-Omni / Qwen3-Omni configs (full model or thinker only)."""
    return _variant(config) is not None


def _classes(variant: str):
    import transformers as tf

    if variant == "qwen2.5-omni":
        return tf.Qwen2_5OmniConfig, tf.Qwen2_5OmniThinkerConfig, tf.Qwen2_5OmniThinkerForConditionalGeneration, tf.Qwen2_5OmniProcessor
    return tf.Qwen3OmniMoeConfig, tf.Qwen3OmniMoeThinkerConfig, tf.Qwen3OmniMoeThinkerForConditionalGeneration, tf.Qwen3OmniMoeProcessor


class OmniCaptioner(QwenCaptioner):
    """Audio-visual captions from a Qwen-Omni thinker (``frame_policy`` "omni": 2 fps)."""

    family = FAMILY
    frame_policy = "omni"
    default_prompt = AVOCADO_PROMPT
    default_max_new_tokens = AVOCADO_MAX_NEW_TOKENS
    generate_kwargs = {"use_audio_in_video": True}

    def __init__(self, name, model, processor, device, dtype, variant: str, pixels: PixelBudget, system_prompt):
        super().__init__(name, model, processor, device, dtype)
        self.variant = variant
        self.pixels = pixels
        self.system_prompt = system_prompt

    def adapter_module_name(self, official: str) -> str:
        # Adapters trained on the full Qwen2.5-Omni model name the thinker's modules "thinker.*".
        return official.removeprefix("thinker.")

    def _generate_kwargs(self, clips: list[Clip]) -> dict:
        # use_audio_in_video is one flag for a whole call: caption() and sequence_logps() split a
        # batch that mixes visual-only videos (use_audio: false) with videos heard with their sound.
        kinds = {_visual_only(clip) for clip in clips}
        if len(kinds) > 1:
            raise ModelError("a Qwen-Omni batch cannot mix visual-only and audio-visual videos")
        return {"use_audio_in_video": not kinds.pop()} if kinds else dict(self.generate_kwargs)

    hears_audio = True

    def audio_fed(self, clip: Clip) -> tuple[float, bool]:
        samples = int(np.shape(clip.audio)[0])
        keep = audio_samples_kept(self.processor)
        fed = samples if keep is None else min(samples, keep)
        return fed / AUDIO_SAMPLE_RATE_HZ, fed < samples

    def caption(self, clips: list[Clip], prompt: str, generation, prefix: str | None = None) -> list[str]:
        groups = _split_by_audio(clips)
        if len(groups) < 2:
            return super().caption(clips, prompt, generation, prefix)
        out: list[str | None] = [None] * (len(clips) * generation.num_samples)
        audits: list[dict] = [{} for _ in clips]
        for indices in groups:
            texts = super().caption([clips[i] for i in indices], prompt, generation, prefix)
            for k, i in enumerate(indices):
                n = generation.num_samples
                out[i * n:(i + 1) * n] = texts[k * n:(k + 1) * n]
                audits[i] = self._last_audit[k]
        self._last_audit = audits
        return out

    def sequence_logps(self, batch, return_counts: bool = False, per_token: bool = False):
        import torch

        groups = _split_by_audio([ex.clip for ex in batch])
        if len(groups) < 2:
            return super().sequence_logps(batch, return_counts, per_token)
        if per_token:
            from avcap.models.hf_common import pad_token_logps

            parts = [(indices, super(OmniCaptioner, self).sequence_logps([batch[i] for i in indices], per_token=True))
                     for indices in groups]
            order = torch.argsort(torch.tensor([i for indices, _ in parts for i in indices]))
            return pad_token_logps([p for _, p in parts], order)
        parts = [(indices, super(OmniCaptioner, self).sequence_logps([batch[i] for i in indices], True))
                 for indices in groups]
        order = torch.tensor([i for indices, _ in parts for i in indices])
        logps = torch.cat([p[0] for _, p in parts])[torch.argsort(order)]
        counts = torch.cat([p[1] for _, p in parts])[torch.argsort(order)]
        return (logps, counts) if return_counts else logps

    def parameter_groups(self) -> dict[str, list]:
        """What training may open (AVoCaDO App. C: encoders frozen, aligners and LLM trained): ``llm``
        (text model and head), ``visual_encoder`` / ``visual_aligner`` (the ViT / its patch merger),
        ``audio_encoder`` / ``audio_aligner`` (the Whisper-style tower / its output projection, the
        ``proj*`` and ``ln_post`` layers that map audio features into the LLM)."""
        inner = self.model.model
        merger = list(inner.visual.merger.parameters())
        in_merger = {id(p) for p in merger}
        audio_aligner = [p for n, p in inner.audio_tower.named_parameters() if n.startswith(("proj", "ln_post"))]
        in_aligner = {id(p) for p in audio_aligner}
        return {"llm": [*inner.language_model.parameters(), *self.model.lm_head.parameters()],
                "visual_encoder": [p for p in inner.visual.parameters() if id(p) not in in_merger],
                "visual_aligner": merger,
                "audio_encoder": [p for p in inner.audio_tower.parameters() if id(p) not in in_aligner],
                "audio_aligner": audio_aligner}

    def audio_kept(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` cut to what the processor keeps, so the rest of a long track is never copied
        (the processor's features, and so the model's audio tokens, are unchanged)."""
        keep = audio_samples_kept(self.processor)
        return audio if keep is None or np.shape(audio)[0] <= keep else audio[:keep]

    def encode(self, clip: Clip, prompt: str) -> dict:
        if clip.sample_rate_hz != AUDIO_SAMPLE_RATE_HZ:
            raise ModelError(f"{clip.path}: audio must be {AUDIO_SAMPLE_RATE_HZ} Hz, got {clip.sample_rate_hz}")
        audio_only = np.asarray(clip.frames).shape[0] == 0
        conversation = []
        if self.system_prompt:
            conversation.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        media = {"type": "audio"} if audio_only else {"type": "image"} if clip.is_image else {"type": "video"}
        conversation.append({"role": "user", "content": [media, {"type": "text", "text": prompt}]})
        text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        if clip.is_image:
            return self.processor(text=[text], images=[np.asarray(clip.frames)[0]], return_tensors="pt")
        if audio_only:
            # A sound, not a video (an ASR / audio-caption row): Qwen-Omni's own audio input, whose
            # audio tokens take the model's audio-only positions; the processor sends no pixels.
            if np.asarray(clip.audio).size == 0:
                raise ModelError(f"{clip.path}: nothing to encode: the clip has no frames and no audio samples")
            audio = np.asarray(self.audio_kept(clip.audio), dtype=np.float32)
            audio = np.pad(audio, (0, max(0, AUDIO_SAMPLE_RATE_HZ // 10 - audio.size)))  # >= one 0.1 s window
            return self.processor(text=[text], audio=[audio], return_tensors="pt")
        frames, _ = video_input(clip)
        videos_kwargs = video_size_kwargs(self.processor.video_processor, self.pixels, len(frames))
        videos_kwargs["fps"] = clip_frame_rate(clip)  # seconds per temporal patch -> time positions
        if _visual_only(clip):  # use_audio: false -- no audio tokens (use_audio_in_video=False)
            return self.processor(text=[text], videos=[frames], videos_kwargs=videos_kwargs, return_tensors="pt")
        audio = self.audio_kept(clip.audio)
        if audio.size < AUDIO_SAMPLE_RATE_HZ // 10:
            # A silent clip still gets audio tokens (zeros), so a batch never mixes the two layouts.
            audio = np.zeros(AUDIO_SAMPLE_RATE_HZ // 10, dtype=np.float32)
        return self.processor(
            text=[text],
            videos=[frames],
            audio=[np.asarray(audio, dtype=np.float32)],
            audio_from_video_indices=[0],  # the audio slot is the video's own track
            load_audio_from_video=True,
            videos_kwargs=videos_kwargs,
            return_tensors="pt",
        )


def _visual_only(clip: Clip) -> bool:
    """A video without its sound (a row's ``use_audio: false``) or an image: no audio tokens."""
    return clip.is_image or (clip.num_frames > 0 and np.asarray(clip.audio).size == 0)


def _split_by_audio(clips: list[Clip]) -> list[list[int]]:
    """Indices of the clips with audio tokens and of those without, in order (empty groups left out)."""
    groups = [[i for i, c in enumerate(clips) if not _visual_only(c)], [i for i, c in enumerate(clips) if _visual_only(c)]]
    return [g for g in groups if g]


def audio_samples_kept(processor) -> int | None:
    """How many leading samples the processor's feature extractor keeps (None: all of them).

    Qwen2.5-Omni's processor pads or cuts every audio to the extractor's ``chunk_length``
    (300 s in the release: truncation is the extractor's default and the processor forces
    max-length padding); Qwen3-Omni's sets ``truncation=False`` and keeps the whole track.
    """
    defaults = getattr(type(processor), "audio_kwargs", None) or {}
    extractor = getattr(processor, "feature_extractor", None)
    if defaults.get("truncation", True) is False or getattr(extractor, "n_samples", None) is None:
        return None
    return int(extractor.n_samples)


def load(name_or_path, device: str = "cpu", dtype=None, name: str | None = None) -> OmniCaptioner:
    """Load the thinker and processor of a Qwen-Omni checkpoint (folder, hub id or ``tiny:*``)."""
    from avcap.models.registry import resolve_checkpoint

    path = resolve_checkpoint(name_or_path)
    config = read_json(path / "config.json")
    variant = _variant(config)
    if variant is None:
        raise ModelError(f"{path}: not a Qwen-Omni checkpoint (model_type {config.get('model_type')!r})")
    full_cls, thinker_cfg_cls, thinker_cls, processor_cls = _classes(variant)
    torch_dtype = resolve_dtype(device, dtype)
    try:
        if "thinker_config" in config:  # full model: keep only the thinker
            thinker_config = full_cls.from_pretrained(path).thinker_config
        else:
            thinker_config = thinker_cfg_cls.from_pretrained(path)
        model, info = thinker_cls.from_pretrained(path, config=thinker_config, dtype=torch_dtype, output_loading_info=True)
        processor = processor_cls.from_pretrained(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{path}: cannot load {variant} thinker ({type(err).__name__}: {err})") from None
    # A full checkpoint also holds the speech generator, which the thinker does not use.
    check_loaded(path, thinker_cls, info, ignore_unexpected=("talker.", "token2wav.", "code2wav."))
    model.to(device).eval()
    settings = read_settings(path)
    pixels = PixelBudget(**settings["pixels"]) if "pixels" in settings else AVOCADO_PIXELS
    system = QWEN25_OMNI_SYSTEM if variant == "qwen2.5-omni" else None
    return OmniCaptioner(name or str(name_or_path), model, processor, device, torch_dtype, variant, pixels, system)


# ---------------------------------------------------------------------------------------------
# Miniatures (tiny.py dispatches here)

_TOKENS = {
    "qwen2.5-omni": {
        "image_token": "<|IMAGE|>", "audio_token": "<|AUDIO|>", "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
        "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
    },
    "qwen3-omni": {
        "image_token": "<|image_pad|>", "audio_token": "<|audio_pad|>", "video_token": "<|video_pad|>",
        "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>",
        "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
    },
}


def _tiny_config(variant: str, tokenizer, ids: dict) -> object:
    import transformers as tf

    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id,
                initializer_range=0.2)
    common = dict(audio_start_token_id=ids["audio_bos_token"], vision_start_token_id=ids["vision_bos_token"],
                  user_token_id=tokenizer.convert_tokens_to_ids("user"), initializer_range=0.2)
    if variant == "qwen2.5-omni":
        return tf.Qwen2_5OmniThinkerConfig(
            audio_config=dict(num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                              d_model=16, output_dim=32, n_window=100),
            vision_config=dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                               fullatt_block_indexes=[1], patch_size=14, temporal_patch_size=2, spatial_merge_size=2),
            text_config=dict(text, rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 1, 1]}),
            audio_token_index=ids["audio_token"], image_token_index=ids["image_token"],
            video_token_index=ids["video_token"], audio_end_token_id=ids["audio_eos_token"],
            vision_end_token_id=ids["vision_eos_token"], **common)
    return tf.Qwen3OmniMoeThinkerConfig(
        audio_config=dict(num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                          d_model=16, output_dim=32, n_window=50, downsample_hidden_size=8, conv_chunksize=50),
        vision_config=dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           patch_size=16, temporal_patch_size=2, spatial_merge_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[0]),
        text_config=dict(text, head_dim=8, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=16,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 1, 1],
                                          "interleaved": True}),
        audio_token_id=ids["audio_token"], image_token_id=ids["image_token"], video_token_id=ids["video_token"],
        **common)


def build_tiny(out_dir, variant: str = "qwen2.5-omni") -> Path:
    """A random-init Qwen-Omni thinker (~0.1M parameters) with its processor, in the official layout."""
    import transformers as tf

    from avcap.models import tiny

    if variant not in _TOKENS:
        raise ModelError(f"omni: unknown tiny variant {variant!r}; choose {', '.join(_TOKENS)}")
    out_dir = Path(out_dir)
    named = _TOKENS[variant]
    tokenizer = tiny.train_tokenizer(["<|im_start|>", "<|im_end|>"], named)
    ids = tiny.token_ids(tokenizer, named)
    template = tiny.chat_template(
        image=named["vision_bos_token"] + named["image_token"] + named["vision_eos_token"],
        video=named["vision_bos_token"] + named["video_token"] + named["vision_eos_token"],
        audio=named["audio_bos_token"] + named["audio_token"] + named["audio_eos_token"],
        default_system="You are a helpful assistant." if variant == "qwen2.5-omni" else None,
    )
    patch = 14 if variant == "qwen2.5-omni" else 16
    factor = patch * 2
    # Qwen2.5-Omni pads every clip's log-mel to chunk_length (300 s in the release); 10 s keeps
    # the miniature's features small (longer audio is cut there, as past 300 s in the release).
    feature_extractor = tf.WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, hop_length=160,
                                                   chunk_length=10, n_fft=400)
    size = {"shortest_edge": factor * factor, "longest_edge": factor * factor * 16}
    image_processor = tf.Qwen2VLImageProcessor(size=size, patch_size=patch)
    video_processor = tf.Qwen2VLVideoProcessor(size=size, patch_size=patch)
    _, _, model_cls, processor_cls = _classes(variant)
    processor = processor_cls(image_processor=image_processor, video_processor=video_processor,
                              feature_extractor=feature_extractor, tokenizer=tokenizer, chat_template=template)
    model = tiny.seeded_init(model_cls, _tiny_config(variant, tokenizer, ids))
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    # Small pixel budget: a few patches per frame keep CPU tests fast (same code path).
    tiny.write_settings(out_dir, {"pixels": {"min_pixels": factor * factor, "max_pixels": factor * factor * 4,
                                             "total_pixels": factor * factor * 64, "frame_factor": 2}})
    return out_dir
