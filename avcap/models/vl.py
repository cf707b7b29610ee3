"""Visual-only captioners: Qwen2-VL, Qwen2.5-VL, Qwen3-VL, and Tarsier2 (a Qwen2-VL).

The audio track is ignored: these models see frames only. Tarsier2-Recap releases a Qwen2-VL
under a LLaVA-style ``config.json`` (``TarsierForConditionalGeneration``, text_config of type
``qwen2_vl``); avcap rebuilds a ``Qwen2VLConfig`` from it and loads the weights into
transformers' ``Qwen2VLForConditionalGeneration`` (both the old Qwen2-VL key layout and the
``vision_tower.`` / ``language_model.`` layout are mapped). Tarsier2 feeds a video as a
sequence of images, each frame doubled so one temporal patch holds one frame (its
``use_multi_images_for_video``), 16 frames by default, and prompts "Describe the video in
detail."; its SFT data grounds each event in frames as ``<frame: i-j>`` (Tarsier2 paper,
Fig. 4), which the ``tarsier2-grounded`` prompt asks for.
"""

from __future__ import annotations

from pathlib import Path

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models.hf_common import (
    PixelBudget,
    QwenCaptioner,
    check_loaded,
    read_json,
    read_settings,
    resolve_dtype,
    video_input,
    video_size_kwargs,
)

FAMILY = "vl"

TARSIER2_PROMPT = "Describe the video in detail."
PROMPT_PRESETS = {
    "tarsier2": TARSIER2_PROMPT,
    "tarsier2-grounded": (
        "Describe the video in detail. Before each event, give the frames it spans as <frame: i-j>, "
        "numbering the frames from 1."
    ),
}
VISUAL_PROMPT = "Describe the video in detail, including what happens and in what order."
TARSIER2_MAX_NEW_TOKENS = 512  # Tarsier2's caption evaluation (REFERENCE.md)

# qwen-vl-utils defaults: 128..768 merged patches per frame and 90 % of a 128K-token context in
# all; a merged patch is 28x28 pixels for Qwen2/2.5-VL and 32x32 for Qwen3-VL (patch 16).
# Tarsier2's config: 460,800 pixels per frame and 128*384*384 per sample shared by its images.
QWEN_VL_PIXELS = PixelBudget()
QWEN3_VL_PIXELS = PixelBudget(min_pixels=128 * 32 * 32, max_pixels=768 * 32 * 32, total_pixels=int(128000 * 32 * 32 * 0.9))
TARSIER2_PIXELS = PixelBudget(min_pixels=28 * 28, max_pixels=460_800, total_pixels=128 * 384 * 384, frame_factor=1)

_MODEL_TYPES = {"qwen2_vl": "qwen2-vl", "qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl"}
_ARCHS = {"Qwen2VLForConditionalGeneration": "qwen2-vl", "Qwen2_5_VLForConditionalGeneration": "qwen2.5-vl",
          "Qwen3VLForConditionalGeneration": "qwen3-vl"}
_AUDIO_HINTS = ("audio", "speech", "whisper", "qformer")  # configs of audio-visual models built on a VL


def _variant(config: dict) -> str | None:
    if any(hint in key.lower() for key in config for hint in _AUDIO_HINTS):
        return None
    archs = config.get("architectures") or []
    text_type = (config.get("text_config") or {}).get("model_type")
    if text_type == "qwen2_vl" and (config.get("model_type") in ("llava", "tarsier2") or any("Tarsier" in a for a in archs)):
        return "tarsier2"
    if config.get("model_type") in _MODEL_TYPES:
        return _MODEL_TYPES[config["model_type"]]
    for arch in archs:
        if arch in _ARCHS:
            return _ARCHS[arch]
    return None


def detect(config: dict) -> bool:
    """True for Qwen2-VL / Qwen2.5-VL / Qwen3-VL configs and Tarsier2's LLaVA-style wrapper."""
    return _variant(config) is not None


def _classes(variant: str):
    import transformers as tf

    return {
        "qwen2-vl": (tf.Qwen2VLForConditionalGeneration, tf.Qwen2VLProcessor),
        "tarsier2": (tf.Qwen2VLForConditionalGeneration, tf.Qwen2VLProcessor),
        "qwen2.5-vl": (tf.Qwen2_5_VLForConditionalGeneration, tf.Qwen2_5_VLProcessor),
        "qwen3-vl": (tf.Qwen3VLForConditionalGeneration, tf.Qwen3VLProcessor),
    }[variant]


class VLCaptioner(QwenCaptioner):
    """Visual-only captions from a Qwen-VL model; the clip's audio is not used."""

    family = FAMILY

    def __init__(self, name, model, processor, device, dtype, variant: str, pixels: PixelBudget):
        super().__init__(name, model, processor, device, dtype)
        self.variant = variant
        self.pixels = pixels
        self.tarsier2 = variant == "tarsier2"
        self.frame_policy = "tarsier2" if self.tarsier2 else "qwen-vl"
        self.default_prompt = TARSIER2_PROMPT if self.tarsier2 else VISUAL_PROMPT
        if self.tarsier2:
            self.default_max_new_tokens = TARSIER2_MAX_NEW_TOKENS

    def parameter_groups(self) -> dict[str, list]:
        """What training may open: ``llm`` (the language model and its head), ``visual_encoder`` (the
        ViT), ``visual_aligner`` (its patch merger); no ``audio_aligner`` (the model hears nothing)."""
        inner = self.model.model
        merger = list(inner.visual.merger.parameters())
        in_merger = {id(p) for p in merger}
        return {"llm": [*inner.language_model.parameters(), *self.model.lm_head.parameters()],
                "visual_encoder": [p for p in inner.visual.parameters() if id(p) not in in_merger],
                "visual_aligner": merger, "audio_aligner": []}

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """A checkpoint ``load`` reads back as the same variant: weights in transformers' layout, the
        tokenizer / processor files of the source checkpoint, and -- for Tarsier2 -- its LLaVA-style
        ``config.json`` (the loader rebuilds the Qwen2-VL config from it and maps nothing else)."""
        import shutil

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        source = getattr(self, "source", None)
        if source is not None:
            for file in Path(source).iterdir():
                if file.is_file() and not file.name.endswith((".safetensors", ".bin", ".index.json")):
                    shutil.copy2(file, out / file.name)
        self.model.save_pretrained(out)
        if self.tarsier2 and source is not None:
            shutil.copy2(Path(source) / "config.json", out / "config.json")
        return out

    def encode(self, clip: Clip, prompt: str) -> dict:
        if clip.num_frames == 0:
            raise ModelError(f"{clip.path}: audio-only clip (no frames): {self.name} is a visual-only "
                             f"{self.variant} model; caption sounds with a salmonn2 or omni model")
        media = {"type": "image"} if clip.is_image else {"type": "video"}
        conversation = [{"role": "user", "content": [media, {"type": "text", "text": prompt}]}]
        text = self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        if clip.is_image:
            return self.processor(text=[text], images=[clip.frames[0]], return_tensors="pt")
        frames, metadata = video_input(clip, duplicate_frames=self.tarsier2)
        videos_kwargs = video_size_kwargs(self.processor.video_processor, self.pixels, len(frames))
        videos_kwargs["video_metadata"] = [metadata]
        return self.processor(text=[text], videos=[frames], videos_kwargs=videos_kwargs, return_tensors="pt")


def _tarsier2_config(path: Path, config: dict, tokenizer):
    """A Qwen2VLConfig from Tarsier2's LLaVA-style config; token ids read from the tokenizer."""
    from transformers import Qwen2VLConfig

    text = dict(config["text_config"])
    vision = dict(config.get("vision_config") or text.pop("vision_config", None) or {})
    text.pop("vision_config", None)
    if not vision:
        raise ModelError(f"{path}: Tarsier2 config has no vision_config")
    ids = {key: tokenizer.convert_tokens_to_ids(tok) for key, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    for key in ("model_type", "architectures", "auto_map"):
        text.pop(key, None)
        vision.pop(key, None)
    return Qwen2VLConfig(text_config=text, vision_config=vision, **ids)


# Tarsier2 weights saved through its LLaVA wrapper; Qwen2-VL's own old layout is mapped by transformers.
_TARSIER2_KEYS = {r"^vision_tower\.": "model.visual.", r"^language_model\.model\.": "model.language_model.",
                  r"^language_model\.lm_head\.": "lm_head."}


def load(name_or_path, device: str = "cpu", dtype=None, name: str | None = None) -> VLCaptioner:
    """Load a Qwen-VL (or Tarsier2) checkpoint (folder, hub id or ``tiny:*``)."""
    import transformers as tf

    from avcap.models.registry import resolve_checkpoint

    path = resolve_checkpoint(name_or_path)
    config = read_json(path / "config.json")
    variant = _variant(config)
    if variant is None:
        raise ModelError(f"{path}: not a Qwen-VL checkpoint (model_type {config.get('model_type')!r})")
    model_cls, processor_cls = _classes(variant)
    torch_dtype = resolve_dtype(device, dtype)
    try:
        if variant == "tarsier2":
            tokenizer = tf.AutoTokenizer.from_pretrained(path)
            image_processor = tf.Qwen2VLImageProcessor.from_pretrained(path)
            processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer,
                                      video_processor=tf.Qwen2VLVideoProcessor(), chat_template=tokenizer.chat_template)
            model, info = model_cls.from_pretrained(path, config=_tarsier2_config(path, config, tokenizer),
                                                    dtype=torch_dtype, key_mapping=_TARSIER2_KEYS,
                                                    output_loading_info=True)
        else:
            processor = processor_cls.from_pretrained(path)
            model, info = model_cls.from_pretrained(path, dtype=torch_dtype, output_loading_info=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{path}: cannot load {variant} ({type(err).__name__}: {err})") from None
    check_loaded(path, model_cls, info)
    if processor.chat_template is None:
        raise ModelError(f"{path}: the checkpoint has no chat template")
    model.to(device).eval()
    settings = read_settings(path)
    default_pixels = {"tarsier2": TARSIER2_PIXELS, "qwen3-vl": QWEN3_VL_PIXELS}.get(variant, QWEN_VL_PIXELS)
    pixels = PixelBudget(**settings["pixels"]) if "pixels" in settings else default_pixels
    captioner = VLCaptioner(name or str(name_or_path), model, processor, device, torch_dtype, variant, pixels)
    captioner.source = path  # the checkpoint folder: save_pretrained copies its non-weight files
    return captioner


# ---------------------------------------------------------------------------------------------
# Miniatures (tiny.py dispatches here)

_NAMED = {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
          "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>"}


def _tiny_config(variant: str, tokenizer):
    import transformers as tf

    ids = dict(image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
               video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
               vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
               vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"))
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, initializer_range=0.2,
                eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tokenizer.pad_token_id,
                bos_token_id=None)
    mrope = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 1, 1]}
    if variant in ("qwen2-vl", "tarsier2"):
        return tf.Qwen2VLConfig(
            text_config=dict(text, rope_parameters=mrope),
            vision_config=dict(depth=2, embed_dim=16, hidden_size=32, mlp_ratio=2, num_heads=2, patch_size=14),
            **ids)
    if variant == "qwen2.5-vl":
        return tf.Qwen2_5_VLConfig(
            text_config=dict(text, rope_parameters=mrope),
            vision_config=dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                               fullatt_block_indexes=[1], patch_size=14, tokens_per_second=2),
            **ids)
    return tf.Qwen3VLConfig(
        text_config=dict(text, head_dim=8, rope_parameters=dict(mrope, mrope_interleaved=True)),
        vision_config=dict(depth=2, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           patch_size=16, num_position_embeddings=64, deepstack_visual_indexes=[0]),
        **ids)


def build_tiny(out_dir, variant: str = "qwen2-vl") -> Path:
    """A random-init Qwen-VL (~0.1M parameters) with its processor, in the official layout.

    ``variant="tarsier2"`` writes a Qwen2-VL in Tarsier2's release layout (LLaVA-style config,
    Qwen2-VL's pre-v4.52 weight names ``visual.`` / ``model.`` / ``lm_head.``).
    """
    import transformers as tf

    from avcap.models import tiny

    if variant not in ("qwen2-vl", "qwen2.5-vl", "qwen3-vl", "tarsier2"):
        raise ModelError(f"vl: unknown tiny variant {variant!r}")
    out_dir = Path(out_dir)
    tokenizer = tiny.train_tokenizer(["<|im_start|>", "<|im_end|>"], _NAMED)
    template = tiny.chat_template(image="<|vision_start|><|image_pad|><|vision_end|>",
                                  video="<|vision_start|><|video_pad|><|vision_end|>", audio=None,
                                  default_system=None if variant == "qwen3-vl" else "You are a helpful assistant.")
    patch = 16 if variant == "qwen3-vl" else 14
    factor = patch * 2
    size = {"shortest_edge": factor * factor, "longest_edge": factor * factor * 16}
    image_processor = tf.Qwen2VLImageProcessor(size=size, patch_size=patch)
    video_cls = tf.Qwen3VLVideoProcessor if variant == "qwen3-vl" else tf.Qwen2VLVideoProcessor
    video_processor = video_cls(size=size, patch_size=patch)
    model_cls, processor_cls = _classes(variant)
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer,
                              video_processor=video_processor, chat_template=template)
    model = tiny.seeded_init(model_cls, _tiny_config(variant, tokenizer))
    if variant == "tarsier2":
        _save_tarsier2_layout(model, tokenizer, image_processor, template, out_dir)
    else:
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
    tiny.write_settings(out_dir, {"pixels": {"min_pixels": factor * factor, "max_pixels": factor * factor * 4,
                                             "total_pixels": factor * factor * 64,
                                             "frame_factor": 1 if variant == "tarsier2" else 2}})
    return out_dir


def _save_tarsier2_layout(model, tokenizer, image_processor, template: str, out_dir: Path) -> None:
    import json

    from safetensors.torch import save_file

    # The released weights use Qwen2-VL's pre-v4.52 names (what vLLM's Tarsier2 loader maps).
    renames = (("model.visual.", "visual."), ("model.language_model.", "model."))
    tensors = {}
    for key, value in model.state_dict().items():
        for old, new in renames:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        tensors[key] = value.contiguous().clone()
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    text = model.config.text_config.to_dict()
    text["model_type"] = "qwen2_vl"
    vision = model.config.vision_config.to_dict()
    vision["model_type"] = "qwen2_vl"
    config = {"architectures": ["TarsierForConditionalGeneration"], "model_type": "llava", "projection_head": None,
              "text_config": text, "vision_config": vision}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tokenizer.chat_template = template
    tokenizer.save_pretrained(out_dir)
    image_processor.save_pretrained(out_dir)
