"""Architecture settings of both video-SALMONN 2 releases, read from their own config.json files.

Which release a checkpoint is, and which fields say so (read in bytedance/video-SALMONN-2):

* 2+ (``video_SALMONN2_plus/``): ``save_pretrained`` of class ``video_SALMONN2_plus`` writes
  ``"architectures": ["video_SALMONN2_plus"]`` and a Qwen2.5-VL config extended with
  ``audio_config`` (Whisper fields, ``second_per_window``, ``second_stride`` and a nested
  ``qformer_config``) and ``audio_token_id`` (``configuration_qwen2_5_vl.py``).
* first release (``llava/``): ``VideoSALMONN2ForCausalLM`` (``model_type`` ``video_salmonn_2``),
  a LLaVA-OneVision Qwen2 config with ``mm_*`` fields and the training arguments under
  ``model_args`` (``whisper_path``, ``num_speech_query_token``, ``second_per_window``, ...).
  Its encoder sizes are not in config.json (the official code fetches Whisper, SigLIP and
  bert-base-uncased from the hub); avcap reads them from the checkpoint's tensor shapes, with
  head counts from the fixed head widths of those encoders (SigLIP-so400m 72, Whisper 64,
  BERT 64), so nothing is downloaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from avcap.errors import ModelError

PLUS = "plus"
V1 = "v1"
VARIANTS = (PLUS, V1)

SIGLIP_HEAD_DIM = 72
WHISPER_HEAD_DIM = 64
BERT_HEAD_DIM = 64

# WhisperConfig fields the encoder reads; other keys of the official audio_config are ignored.
WHISPER_KEYS = ("num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim",
                "max_source_positions", "activation_function", "scale_embedding")


# Fields that describe the saved file rather than the architecture (avcap picks the dtype itself).
_NOT_MODEL_FIELDS = ("architectures", "auto_map", "_name_or_path", "transformers_version", "torch_dtype", "dtype")


def detect_variant(config: dict) -> str | None:
    """``"plus"``, ``"v1"`` or None for anything else (see the module docstring for the fields)."""
    if not isinstance(config, dict):
        return None
    archs = set(config.get("architectures") or [])
    audio = config.get("audio_config")
    if "video_SALMONN2_plus" in archs or (
        isinstance(audio, dict) and "qformer_config" in audio and "audio_token_id" in config
    ):
        return PLUS
    model_args = config.get("model_args")
    if "VideoSALMONN2ForCausalLM" in archs or config.get("model_type") == "video_salmonn_2" or (
        isinstance(model_args, dict) and "whisper_path" in model_args and "mm_projector_type" in config
    ):
        return V1
    return None


@dataclass
class AudioAlignerConfig:
    """Whisper encoder + window-level Q-Former + projection (paper §3.1, eqs. 1-3; §4.1).

    One window of ``second_per_window`` seconds (25 of Whisper's 50 encoder frames per second)
    feeds ``num_query_tokens`` queries, so a 30 s chunk gives 60 tokens with the defaults.
    ``ln_speech``, ``final_linear`` and ``segment_position`` are the first release's extra
    LayerNorm, Linear-GELU-Linear and segment-level position embedding; the 2+ release has
    none of them (it places audio in time through M-RoPE instead).
    """

    whisper: dict[str, Any]
    llm_hidden_size: int
    qformer_hidden_size: int = 768
    qformer_layers: int = 2
    qformer_heads: int = 12
    qformer_intermediate_size: int = 3072
    qformer_cross_attention_freq: int = 1
    qformer_layer_norm_eps: float = 1e-12
    qformer_hidden_act: str = "gelu"
    num_query_tokens: int = 1
    second_per_window: float = 0.5
    second_stride: float = 0.5
    chunk_s: float = 30.0
    ln_speech: bool = False
    final_linear: bool = False
    segment_position: bool = False

    def __post_init__(self) -> None:
        for key in ("num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim"):
            if int(self.whisper.get(key, 0)) < 1:
                raise ModelError(f"audio aligner: whisper.{key} must be >= 1, got {self.whisper.get(key)!r}")
        self.whisper.setdefault("max_source_positions", 1500)
        positive = {"llm_hidden_size": self.llm_hidden_size, "qformer_hidden_size": self.qformer_hidden_size,
                    "qformer_layers": self.qformer_layers, "qformer_heads": self.qformer_heads,
                    "qformer_intermediate_size": self.qformer_intermediate_size,
                    "qformer_cross_attention_freq": self.qformer_cross_attention_freq,
                    "num_query_tokens": self.num_query_tokens, "second_per_window": self.second_per_window,
                    "second_stride": self.second_stride, "chunk_s": self.chunk_s}
        for key, value in positive.items():
            if not value > 0:
                raise ModelError(f"audio aligner: {key} must be > 0, got {value!r}")
        if self.qformer_hidden_size % self.qformer_heads:
            raise ModelError(f"audio aligner: Q-Former width {self.qformer_hidden_size} is not divisible "
                             f"by {self.qformer_heads} heads")
        if self.window_frames < 1 or self.stride_frames < 1 or self.window_frames > self.encoder_frames:
            raise ModelError(f"audio aligner: a {self.second_per_window} s window does not fit a "
                             f"{self.chunk_s} s chunk of {self.encoder_frames} encoder frames")

    @property
    def encoder_frames(self) -> int:
        """Whisper encoder frames per chunk (1500 for 30 s)."""
        return int(self.whisper["max_source_positions"])

    @property
    def window_frames(self) -> int:
        # The official code hard-codes round(1500 * second_per_window / 30.0); same for Whisper.
        return round(self.encoder_frames * self.second_per_window / self.chunk_s)

    @property
    def stride_frames(self) -> int:
        return round(self.encoder_frames * self.second_stride / self.chunk_s)

    @property
    def tokens_per_chunk(self) -> int:
        """Audio tokens per chunk: windows x queries (60 for 0.5 s windows over 30 s)."""
        return ((self.encoder_frames - self.window_frames) // self.stride_frames + 1) * self.num_query_tokens

    @property
    def num_mel_bins(self) -> int:
        return int(self.whisper["num_mel_bins"])

    def whisper_config(self):
        from transformers import WhisperConfig

        kwargs = {k: self.whisper[k] for k in WHISPER_KEYS if k in self.whisper}
        return WhisperConfig(**kwargs, decoder_layers=1, decoder_attention_heads=1, decoder_ffn_dim=4)

    def qformer_config(self):
        """A local BERT-style Q-Former config: no bert-base-uncased download (the official code needs one)."""
        from transformers import Blip2QFormerConfig

        return Blip2QFormerConfig(
            hidden_size=self.qformer_hidden_size, num_hidden_layers=self.qformer_layers,
            num_attention_heads=self.qformer_heads, intermediate_size=self.qformer_intermediate_size,
            hidden_act=self.qformer_hidden_act, layer_norm_eps=self.qformer_layer_norm_eps,
            cross_attention_frequency=self.qformer_cross_attention_freq,
            encoder_hidden_size=int(self.whisper["d_model"]),
        )


@dataclass
class PlusSpec:
    """The 2+ release: Qwen2.5-VL (transformers' own classes) plus the audio aligner."""

    qwen: dict[str, Any]  # kwargs of transformers' Qwen2_5_VLConfig (official flat layout)
    aligner: AudioAlignerConfig
    audio_token_id: int
    video_token_id: int
    vision_start_token_id: int
    vision_end_token_id: int
    spatial_merge_size: int = 2
    tie_word_embeddings: bool = False
    image_token_id: int = 151655


@dataclass
class V1Spec:
    """The first release: SigLIP + MLP projector + 2x2 pooling + image_newline, Qwen2, audio aligner."""

    qwen2: dict[str, Any]  # kwargs of transformers' Qwen2Config
    vision: dict[str, Any]  # kwargs of transformers' SiglipVisionConfig
    aligner: AudioAlignerConfig
    projector_depth: int = 2
    pool_stride: int = 2
    pool_mode: str = "max"
    pool_after_projector: bool = True
    tie_word_embeddings: bool = False
    add_time_token: bool = False  # visual-only clips get each frame's time as text (config add_time_token)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def patches_per_side(self) -> int:
        return int(self.vision["image_size"]) // int(self.vision["patch_size"])

    @property
    def pooled_side(self) -> int:
        return self.patches_per_side // self.pool_stride if self.pool_stride > 1 else self.patches_per_side

    @property
    def tokens_per_frame(self) -> int:
        """Visual tokens of one frame: a pooled grid plus one image_newline per row (13 x 14 = 182)."""
        return self.pooled_side * (self.pooled_side + 1)


def plus_spec(config: dict) -> PlusSpec:
    """Read a 2+ config.json (see ``configuration_qwen2_5_vl.py`` of the release for the fields)."""
    try:
        audio = dict(config["audio_config"])
        qf = dict(audio.get("qformer_config") or {})
        hidden = int(config.get("hidden_size") or config["text_config"]["hidden_size"])
        # Defaults of the release's WhisperConfig (the Whisper-large-v3 encoder).
        whisper = dict(num_mel_bins=128, d_model=1280, encoder_layers=32, encoder_attention_heads=20,
                       encoder_ffn_dim=5120, max_source_positions=1500)
        whisper.update({k: audio[k] for k in WHISPER_KEYS if k in audio})
        aligner = AudioAlignerConfig(
            whisper=whisper,
            llm_hidden_size=hidden,
            # Defaults of the release's BertConfig for the Q-Former.
            qformer_hidden_size=int(qf.get("hidden_size", 3072)),
            qformer_layers=int(qf.get("num_hidden_layers", 2)),
            qformer_heads=int(qf.get("num_attention_heads", 12)),
            qformer_intermediate_size=int(qf.get("intermediate_size", 12288)),
            qformer_cross_attention_freq=int(qf.get("cross_attention_freq", 1)),
            qformer_layer_norm_eps=float(qf.get("layer_norm_eps", 1e-12)),
            qformer_hidden_act=str(qf.get("hidden_act", "gelu")),
            num_query_tokens=int(qf.get("query_length", 1)),
            second_per_window=float(audio.get("second_per_window", 0.5)),
            second_stride=float(audio.get("second_stride", 0.5)),
        )
        qwen = {k: v for k, v in config.items() if k not in _NOT_MODEL_FIELDS + ("audio_config", "audio_token_id")}
        vision = qwen.get("vision_config") or {}
        return PlusSpec(
            qwen=qwen, aligner=aligner, audio_token_id=int(config["audio_token_id"]),
            video_token_id=int(config.get("video_token_id", 151656)),
            vision_start_token_id=int(config.get("vision_start_token_id", 151652)),
            vision_end_token_id=int(config.get("vision_end_token_id", 151653)),
            spatial_merge_size=int(vision.get("spatial_merge_size", 2)),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            image_token_id=int(config.get("image_token_id", 151655)),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"video-SALMONN 2+ config.json: missing or invalid field ({err})") from None


def _count(shapes: dict[str, tuple], pattern: str) -> int:
    found = {int(m.group(1)) for key in shapes if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def _shape(shapes: dict[str, tuple], key: str) -> tuple:
    if key not in shapes:
        raise ModelError(f"video-SALMONN 2 checkpoint: no tensor {key}")
    return tuple(shapes[key])


def _heads(width: int, head_dim: int, what: str) -> int:
    if width % head_dim:
        raise ModelError(f"video-SALMONN 2 checkpoint: {what} width {width} is not a multiple of its head width {head_dim}")
    return width // head_dim


def v1_spec(config: dict, shapes: dict[str, tuple]) -> V1Spec:
    """Read a first-release config.json, with encoder sizes from the checkpoint's tensor shapes."""
    args = dict(config.get("model_args") or {})
    vt = "model.vision_tower.vision_tower.vision_model."
    hidden_v, _, patch, _ = _shape(shapes, vt + "embeddings.patch_embedding.weight")
    num_positions = _shape(shapes, vt + "embeddings.position_embedding.weight")[0]
    side = round(num_positions ** 0.5)
    vision = dict(
        hidden_size=hidden_v, patch_size=patch, image_size=side * patch,
        num_hidden_layers=_count(shapes, re.escape(vt) + r"encoder\.layers\.(\d+)\."),
        intermediate_size=_shape(shapes, vt + "encoder.layers.0.mlp.fc1.weight")[0],
        num_attention_heads=_heads(hidden_v, SIGLIP_HEAD_DIM, "SigLIP"), layer_norm_eps=1e-6,
        vision_use_head=False, hidden_act="gelu_pytorch_tanh",
    )
    d_model, mels, _ = _shape(shapes, "speech_encoder.conv1.weight")
    whisper = dict(
        num_mel_bins=mels, d_model=d_model,
        encoder_layers=_count(shapes, r"speech_encoder\.layers\.(\d+)\."),
        encoder_attention_heads=_heads(d_model, WHISPER_HEAD_DIM, "Whisper"),
        encoder_ffn_dim=_shape(shapes, "speech_encoder.layers.0.fc1.weight")[0],
        max_source_positions=_shape(shapes, "speech_encoder.embed_positions.weight")[0],
    )
    _, n_query, qf_hidden = _shape(shapes, "speech_query_tokens")
    qf = "speech_Qformer.bert.encoder.layer."
    qf_layers = _count(shapes, re.escape(qf) + r"(\d+)\.")
    cross = [i for i in range(qf_layers) if qf + f"{i}.crossattention.self.key.weight" in shapes]
    aligner = AudioAlignerConfig(
        whisper=whisper, llm_hidden_size=int(config["hidden_size"]),
        qformer_hidden_size=qf_hidden, qformer_layers=qf_layers,
        qformer_heads=_heads(qf_hidden, BERT_HEAD_DIM, "Q-Former"),
        qformer_intermediate_size=_shape(shapes, qf + "0.intermediate_query.dense.weight")[0],
        qformer_cross_attention_freq=(cross[1] - cross[0]) if len(cross) > 1 else 1,
        num_query_tokens=n_query,
        # The release's scripts train with --winqf_second 0.5 (paper §4.1: 0.5 s windows).
        second_per_window=float(args.get("second_per_window", 0.5)),
        second_stride=float(args.get("second_stride", args.get("second_per_window", 0.5))),
        ln_speech=True, final_linear="final_linear.0.weight" in shapes, segment_position=True,
    )
    projector = str(config.get("mm_projector_type", "mlp2x_gelu"))
    depth = re.fullmatch(r"mlp(\d+)x_gelu", projector)
    if not depth:
        raise ModelError(f"video-SALMONN 2 config.json: mm_projector_type {projector!r} is not mlpNx_gelu")
    pool_mode = str(config.get("mm_spatial_pool_mode", args.get("mm_spatial_pool_mode", "max")))
    if pool_mode not in ("max", "average"):
        raise ModelError(f"video-SALMONN 2 config.json: mm_spatial_pool_mode {pool_mode!r} is not max or average")
    newline = config.get("mm_newline_position", "grid")
    if newline != "grid":
        raise ModelError(f"video-SALMONN 2 config.json: mm_newline_position {newline!r} (only 'grid' is released)")
    qwen2 = {k: v for k, v in config.items() if not k.startswith("mm_")
             and k not in _NOT_MODEL_FIELDS + ("model_args", "model_type")}
    return V1Spec(
        qwen2=qwen2, vision=vision, aligner=aligner, projector_depth=int(depth.group(1)),
        pool_stride=int(config.get("mm_spatial_pool_stride") or args.get("mm_spatial_pool_stride") or 2),
        pool_mode=pool_mode,
        pool_after_projector=str(config.get("mm_pooling_position", args.get("mm_pooling_position", "after"))) == "after",
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        add_time_token=bool(config.get("add_time_token", args.get("add_time_token", False))),
    )
