"""VideoLLaMA 2 / 2.1 / 2.1-AV captioners (DAMO-NLP-SG), loaded from the authors' checkpoints.

Per clip, as the release's ``Videollama2MetaForCausalLM`` runs it:

* vision: each frame through CLIP ViT-L/14-336 or SigLIP so400m-384 (``mm_vision_tower``),
  features of layer ``mm_vision_select_layer`` (-2: the second-to-last), CLIP's class token
  dropped (``patch``);
* STC connector (paper §2.1, Fig. 2): timm ``RegStage`` (depth 4, SiLU, LayerNorm2d) per frame
  -> ``Conv3d`` kernel = stride = (2, 2, 2) + SiLU over (time, height, width) -> ``RegStage``
  (depth 4) -> 2-layer GELU MLP. ``stc_connector`` pads the Conv3d by 1 (VideoLLaMA 2),
  ``stc_connector_v35`` by 0 (VideoLLaMA 2.1): 16 SigLIP frames give 9·14·14 or 8·13·13 tokens;
* audio (2.1-AV, ``mm_audio_tower``): BEATs on a 128-bin Kaldi fbank of 30 s, then
  ``mm_projector_a``, a 2-layer GELU MLP. From a video, the release cuts 8 clips of 2 s evenly
  spaced over the track (pytorchvideo's ``ConstantClipsPerVideoSampler``), concatenates them and
  zero-pads to 30 s; an audio file is cut to its first 30 s (the release picks a random window)
  or zero-padded. A video without sound gets zeros, as the release does;
* the LLM (Mistral, Mixtral, Qwen2 or Llama; transformers' own classes) reads the chat prompt
  ``<video>\\n{prompt}`` with the clip's tokens ``[video, audio]`` at the placeholder (an
  audio-only clip: its audio tokens at ``<audio>``). Mistral/Mixtral get the LLaMA-2 system
  message of ``mm_infer``.

Released checkpoints (``Videollama2{Mistral,Mixtral,Qwen2}ForCausalLM``) load unedited: see
``OFFICIAL_PREFIXES`` for the name mapping. Their config.json names the towers by hub id and
carries no tower config, so the two towers of the release are known here
(``KNOWN_VISION_TOWERS``); avcap-written checkpoints (and ``tiny:*``) may add ``vision_config`` /
``audio_config`` dicts, which the release ignores. A checkpoint without tower weights (the AV
branch builds its towers apart) gets them from ``mm_vision_tower`` (a folder or hub id) and
``mm_audio_tower`` (a BEATs ``.pt``), as the release does.

Frames follow the release's inference (``model_init``: ``aspect_ratio=None``): each frame goes
to the tower's image processor as it is (SigLIP: resized to a square; CLIP: short side, centre
crop). Its training scripts pad frames to squares first: ``--frames`` policy ``videollama2`` with
``pad=True``. Batches are left-padded; the release has no batch inference.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avcap.errors import ModelError
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, Clip
from avcap.models.beats import BEATs, BEATsConfig, beats_num_tokens

FAMILY = "videollama2"
MM_SLOT = -201  # the release's VIDEO_TOKEN_INDEX: feature positions in input_ids
IGNORE_INDEX = -100
LLM_TYPES = {"videollama2": "mistral", "videollama2_mistral": "mistral", "videollama2_mixtral": "mixtral",
             "videollama2_qwen2": "qwen2", "videollama2_llama": "llama"}
CONNECTOR_PADDING = {"stc_connector": 1, "stc_connector_v35": 0}
# config.json of the two towers the releases use (their hub configs; only the fields that shape them).
KNOWN_VISION_TOWERS = {
    "openai/clip-vit-large-patch14-336": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                              num_attention_heads=16, image_size=336, patch_size=14,
                                              hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=768),
    "google/siglip-so400m-patch14-384": dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                             num_attention_heads=16, image_size=384, patch_size=14,
                                             hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
}
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
# mm_infer's system message for the Mistral / Mixtral models.
LLAMA2_SYSTEM = (
    "<<SYS>>\nYou are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while "
    "being safe.  Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or "
    "illegal content. Please ensure that your responses are socially unbiased and positive in nature.\nIf a "
    "question does not make any sense, or is not factually coherent, explain why instead of answering something "
    "not correct. If you don't know the answer to a question, please don't share false information.\n<</SYS>>")
VISUAL_PROMPT = "Describe the video in detail, including what happens and in what order."
AUDIO_SECONDS, AUDIO_CLIPS, AUDIO_CLIP_SECONDS = 30, 8, 2
_NOT_LLM = {"architectures", "model_type", "auto_map", "vision_config", "audio_config", "hidden_size_a"}


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass
class VideoLLaMA2Spec:
    """What a checkpoint's config.json says about the network."""

    llm_type: str  # mistral | mixtral | qwen2 | llama
    llm: dict  # the LLM's own config fields
    vision_kind: str  # clip | siglip
    vision: dict  # vision tower config fields
    vision_source: str  # mm_vision_tower: hub id or folder
    connector: str = "stc_connector"
    select_layer: int = -2
    select_feature: str = "patch"
    num_frames: int = 8  # the release's NUM_FRAMES when config.json has none
    audio: BEATsConfig | None = None
    audio_source: str | None = None  # mm_audio_tower
    audio_projector_depth: int = 2

    @property
    def hidden_size(self) -> int:
        return int(self.llm["hidden_size"])

    @property
    def patches_per_side(self) -> int:
        return int(self.vision["image_size"]) // int(self.vision["patch_size"])

    @property
    def padding(self) -> int:
        return CONNECTOR_PADDING[self.connector]


def _mlp_depth(kind: str, what: str) -> int:
    match = re.fullmatch(r"mlp(\d+)x_gelu", kind or "")
    if not match:
        raise ModelError(f"{what} {kind!r} is not supported (avcap runs mlpNx_gelu)")
    return int(match.group(1))


def detect(config: dict) -> bool:
    """True for VideoLLaMA 2 configs (``model_type`` videollama2*, ``Videollama2*ForCausalLM``)."""
    if str(config.get("model_type", "")).startswith("videollama2"):
        return True
    return any(str(a).startswith("Videollama2") for a in config.get("architectures") or [])


def _vision_config(config: dict, folder: Path) -> dict:
    if isinstance(config.get("vision_config"), dict):
        return dict(config["vision_config"])
    source = str(config.get("mm_vision_tower") or "")
    if source in KNOWN_VISION_TOWERS:
        return dict(KNOWN_VISION_TOWERS[source])
    local = Path(source).expanduser()
    if not local.is_absolute():
        local = folder / local if (folder / local).exists() else local
    try:
        if (local / "config.json").is_file():
            tower = json.loads((local / "config.json").read_text(encoding="utf-8"))
        else:
            from avcap.models.registry import hub_config

            tower = hub_config(source)
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: cannot read the vision tower config of {source!r} ({err})") from None
    return dict(tower.get("vision_config", tower))


def spec_from_config(config: dict, folder: str | Path = ".") -> VideoLLaMA2Spec:
    folder = Path(folder)
    model_type = str(config.get("model_type", ""))
    if model_type not in LLM_TYPES:
        raise ModelError(f"{folder}: model_type {model_type!r} is not a VideoLLaMA 2 LLM "
                         f"({', '.join(sorted(LLM_TYPES))})")
    source = str(config.get("mm_vision_tower") or config.get("vision_tower") or "")
    kind = "clip" if "clip" in source.lower() else "siglip" if "siglip" in source.lower() else None
    if kind is None and isinstance(config.get("vision_config"), dict):
        kind = "clip" if "clip" in str(config["vision_config"].get("model_type", "")) else "siglip"
    if kind is None:
        raise ModelError(f"{folder}: mm_vision_tower {source!r} is neither a CLIP nor a SigLIP tower")
    connector = config.get("mm_projector_type", "stc_connector")
    if connector not in CONNECTOR_PADDING:
        raise ModelError(f"{folder}: mm_projector_type {connector!r} is not supported "
                         f"({', '.join(CONNECTOR_PADDING)})")
    select_feature = config.get("mm_vision_select_feature", "patch")
    if select_feature != "patch":
        raise ModelError(f"{folder}: mm_vision_select_feature {select_feature!r} is not supported (patch)")
    vision = _vision_config(config, folder)
    vision = {k: v for k, v in vision.items() if k not in ("model_type", "architectures", "transformers_version")}
    llm = {k: v for k, v in config.items() if not k.startswith("mm_") and k not in _NOT_LLM}
    audio, audio_source, depth = None, None, 2
    if config.get("mm_audio_tower"):
        audio = BEATsConfig.from_dict(config.get("audio_config"))
        audio_source = str(config["mm_audio_tower"])
        depth = _mlp_depth(config.get("mm_projector_a_type", "mlp2x_gelu"), f"{folder}: mm_projector_a_type")
        if int(config.get("mm_hidden_size_a", audio.encoder_embed_dim)) != audio.encoder_embed_dim:
            raise ModelError(f"{folder}: mm_hidden_size_a {config['mm_hidden_size_a']} differs from the BEATs width "
                             f"{audio.encoder_embed_dim}")
    mm_hidden = int(config.get("mm_hidden_size", vision["hidden_size"]))
    if mm_hidden != int(vision["hidden_size"]):
        raise ModelError(f"{folder}: mm_hidden_size {mm_hidden} differs from the vision tower width {vision['hidden_size']}")
    return VideoLLaMA2Spec(llm_type=LLM_TYPES[model_type], llm=llm, vision_kind=kind, vision=vision,
                           vision_source=source, connector=connector,
                           select_layer=int(config.get("mm_vision_select_layer", -2)), select_feature=select_feature,
                           num_frames=int(config.get("num_frames") or 8), audio=audio, audio_source=audio_source,
                           audio_projector_depth=depth)


# ---------------------------------------------------------------------------------------------
# Network


def stc_num_tokens(num_frames: int, patches_per_side: int, padding: int) -> int:
    """Tokens the STC connector makes of ``num_frames`` frames of side² patches (Conv3d k = s = 2)."""
    t = (num_frames + 2 * padding - 2) // 2 + 1
    s = (patches_per_side + 2 * padding - 2) // 2 + 1
    if t < 1 or s < 1:
        raise ModelError(f"STC connector: {num_frames} frames of {patches_per_side}² patches are too few")
    return t * s * s


def _mlp(depth: int, width_in: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(width_in, width)]
    for _ in range(1, depth):
        layers += [nn.GELU(), nn.Linear(width, width)]
    return nn.Sequential(*layers)


class STCConnector(nn.Module):
    """Frame features [B, T, side², C] -> video tokens [B, T'·side'², D] (names as the release's)."""

    def __init__(self, width_in: int, width: int, padding: int, depth: int = 4, mlp_depth: int = 2):
        super().__init__()
        from timm.layers import LayerNorm2d
        from timm.models.regnet import RegStage

        stage = dict(depth=depth, stride=1, dilation=1, act_layer=nn.SiLU, norm_layer=LayerNorm2d)
        self.s1 = RegStage(in_chs=width_in, out_chs=width, **stage)
        self.sampler = nn.Sequential(nn.Conv3d(width, width, kernel_size=2, stride=2, padding=padding), nn.SiLU())
        self.s2 = RegStage(in_chs=width, out_chs=width, **stage)
        self.readout = _mlp(mlp_depth, width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, c = x.shape
        side = math.isqrt(n)
        x = x.reshape(b * t, side, side, c).permute(0, 3, 1, 2)  # frames as images [B·T, C, h, w]
        x = self.s1(x)
        x = x.reshape(b, t, *x.shape[1:]).transpose(1, 2)  # [B, D, T, h, w]
        x = self.sampler(x)
        t2 = x.shape[2]
        x = self.s2(x.transpose(1, 2).flatten(0, 1))  # [B·T', D, h', w']
        x = x.reshape(b, t2, *x.shape[1:]).permute(0, 1, 3, 4, 2).flatten(1, 3)  # [B, T'·h'·w', D], time-major
        return self.readout(x)


def _llm_classes(llm_type: str):
    import transformers as tf

    return {"mistral": (tf.MistralConfig, tf.MistralForCausalLM), "mixtral": (tf.MixtralConfig, tf.MixtralForCausalLM),
            "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM), "llama": (tf.LlamaConfig, tf.LlamaForCausalLM)}[llm_type]


def _vision_classes(kind: str):
    import transformers as tf

    return (tf.CLIPVisionConfig, tf.CLIPVisionModel) if kind == "clip" else (tf.SiglipVisionConfig, tf.SiglipVisionModel)


def _trains(module: nn.Module) -> bool:
    return torch.is_grad_enabled() and any(p.requires_grad for p in module.parameters())


class VideoLLaMA2Model(nn.Module):
    """``llm`` + ``vision`` -> ``connector``; for AV checkpoints ``audio_encoder`` (BEATs) -> ``audio_projector``."""

    def __init__(self, spec: VideoLLaMA2Spec, attn_implementation: str = "sdpa"):
        super().__init__()
        self.spec = spec
        config_cls, llm_cls = _llm_classes(spec.llm_type)
        config = config_cls(**spec.llm)
        config._attn_implementation = attn_implementation
        config.dtype = None  # follow torch's default dtype (the loader sets it)
        self.llm = llm_cls(config)
        vision_config_cls, vision_cls = _vision_classes(spec.vision_kind)
        vision_config = vision_config_cls(**spec.vision)
        vision_config._attn_implementation = attn_implementation
        vision_config.dtype = None
        self.vision = vision_cls(vision_config)
        self.connector = STCConnector(int(spec.vision["hidden_size"]), spec.hidden_size, spec.padding)
        self.audio_encoder = BEATs(spec.audio) if spec.audio is not None else None
        self.audio_projector = (_mlp(spec.audio_projector_depth, spec.audio.encoder_embed_dim, spec.hidden_size)
                                if spec.audio is not None else None)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        seen: set[int] = set()
        llm = [p for p in self.llm.parameters() if not (id(p) in seen or seen.add(id(p)))]
        return {"llm": llm, "visual_encoder": list(self.vision.parameters()),
                "visual_aligner": list(self.connector.parameters()),
                "audio_encoder": list(self.audio_encoder.parameters()) if self.audio_encoder is not None else [],
                "audio_aligner": list(self.audio_projector.parameters()) if self.audio_projector is not None else []}

    @property
    def dtype(self) -> torch.dtype:
        return self.connector.readout[0].weight.dtype

    def video_features(self, pixels: torch.Tensor, frames_per_clip: list[int]) -> list[torch.Tensor]:
        """pixel_values [ΣN, 3, S, S] -> one [tokens, D] per clip with frames."""
        with torch.set_grad_enabled(_trains(self.vision)):
            hidden = self.vision(pixel_values=pixels.to(self.dtype), output_hidden_states=True).hidden_states
        feats = hidden[self.spec.select_layer]
        if self.spec.vision_kind == "clip":
            feats = feats[:, 1:]  # 'patch': drop the class token
        out, start = [], 0
        for n in frames_per_clip:
            if n:
                out.append(self.connector(feats[start:start + n].unsqueeze(0))[0])
                start += n
        return out

    def audio_features(self, fbank: torch.Tensor) -> torch.Tensor:
        """fbank [A, T, 128] -> [A, tokens, D]."""
        with torch.set_grad_enabled(_trains(self.audio_encoder)):
            feats = self.audio_encoder(fbank.to(self.dtype))
        return self.audio_projector(feats)

    def embed(self, batch: VideoLLaMA2Batch) -> torch.Tensor:
        slots = batch.input_ids == MM_SLOT
        embeds = self.llm.get_input_embeddings()(batch.input_ids.masked_fill(slots, 0))
        videos = iter(self.video_features(batch.pixel_values, batch.frames_per_clip)
                      if batch.pixel_values.shape[0] else [])
        audios = iter(self.audio_features(batch.fbank) if batch.fbank.shape[0] else [])
        pieces = []
        for n, has_audio in zip(batch.frames_per_clip, batch.has_audio):
            pieces += ([next(videos)] if n else []) + ([next(audios)] if has_audio else [])  # [video, audio]
        features = torch.cat(pieces, dim=0) if pieces else embeds.new_zeros((0, embeds.shape[-1]))
        if int(slots.sum()) != features.shape[0]:
            raise ModelError(f"{int(slots.sum())} placeholder positions but {features.shape[0]} feature vectors")
        return embeds.masked_scatter(slots.unsqueeze(-1), features.to(embeds.dtype))

    def forward(self, batch: VideoLLaMA2Batch, logits_to_keep: int = 0) -> torch.Tensor:
        out = self.llm(inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask,
                       position_ids=batch.position_ids, use_cache=False, logits_to_keep=logits_to_keep)
        return out.logits

    @torch.no_grad()
    def generate(self, batch: VideoLLaMA2Batch, **kwargs) -> torch.Tensor:
        # Only embeddings go in (the slots are no vocabulary ids), so only new tokens come out.
        return self.llm.generate(inputs_embeds=self.embed(batch), attention_mask=batch.attention_mask, **kwargs)


# ---------------------------------------------------------------------------------------------
# Inputs


def videollama2_audio(clip: Clip) -> np.ndarray | None:
    """The 30 s waveform [480000] the release feeds BEATs for ``clip``; None when it has no audio input.

    From a video: 8 clips of 2 s at starts k·max(D - 2, 0)/7 (pytorchvideo's
    ``ConstantClipsPerVideoSampler(2, 8)``, exact fractions), concatenated, then zero-padded (or
    cut) to 30 s. An audio-only clip: its first 30 s, zero-padded.
    """
    audio = np.asarray(clip.audio, dtype=np.float32).reshape(-1)
    if audio.size == 0:
        return None
    sr, total = AUDIO_SAMPLE_RATE_HZ, AUDIO_SECONDS * AUDIO_SAMPLE_RATE_HZ
    if not clip.audio_only:
        max_start = max(Fraction(audio.size, sr) - AUDIO_CLIP_SECONDS, Fraction(0))
        step = max_start / (AUDIO_CLIPS - 1)
        audio = np.concatenate([audio[int(step * k * sr):int((step * k + AUDIO_CLIP_SECONDS) * sr)]
                                for k in range(AUDIO_CLIPS)])
    out = np.zeros(total, dtype=np.float32)
    out[:min(total, audio.size)] = audio[:total]
    return out


def videollama2_audio_seconds(clip: Clip) -> tuple[float, float]:
    """(distinct seconds of the track that :func:`videollama2_audio` feeds, seconds the clip has).

    From a video the 8 windows of 2 s cover at most 16 s (all of a track up to 16 s, where they
    overlap); an audio-only clip gives its first 30 s.
    """
    total = np.shape(clip.audio)[0] / AUDIO_SAMPLE_RATE_HZ
    cap = AUDIO_SECONDS if clip.audio_only else AUDIO_CLIPS * AUDIO_CLIP_SECONDS
    return min(total, cap), total


@dataclass
class VideoLLaMA2Batch:
    """Model inputs of B clips, left-padded to length L."""

    input_ids: torch.Tensor  # [B, L], MM_SLOT at feature positions
    attention_mask: torch.Tensor  # [B, L]
    position_ids: torch.Tensor  # [B, L]
    pixel_values: torch.Tensor  # [ΣN, 3, S, S] frames of the clips that have frames
    frames_per_clip: list[int]  # [B], 0 for an audio-only clip
    fbank: torch.Tensor  # [A, T, 128] for the A clips with audio input
    has_audio: list[bool]  # [B]
    labels: torch.Tensor | None = None  # [B, L], IGNORE_INDEX outside the answers
    audit: list[dict] | None = None  # [B] token counts and audio seconds fed (the modality audit)

    def to(self, device, dtype=None) -> VideoLLaMA2Batch:
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = value.to(device=device, dtype=dtype if value.is_floating_point() and dtype else value.dtype)
            moved[f.name] = value
        return VideoLLaMA2Batch(**moved)


@dataclass
class VideoLLaMA2Processor:
    """Clips + prompts (+ answers) -> :class:`VideoLLaMA2Batch` (chat template, frames, fbank)."""

    tokenizer: object
    spec: VideoLLaMA2Spec
    end_of_turn_id: int
    image_processor: object = field(init=False)

    def __post_init__(self) -> None:
        from transformers import CLIPImageProcessor, SiglipImageProcessor
        from transformers.image_utils import PILImageResampling

        side = int(self.spec.vision["image_size"])
        if self.spec.vision_kind == "clip":  # openai/clip-vit-large-patch14-336's preprocessor_config
            self.image_processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                                                      resample=PILImageResampling.BICUBIC, image_mean=list(CLIP_MEAN),
                                                      image_std=list(CLIP_STD))
        else:  # google/siglip-so400m-patch14-384's
            self.image_processor = SiglipImageProcessor(size={"height": side, "width": side},
                                                        resample=PILImageResampling.BICUBIC,
                                                        image_mean=[0.5] * 3, image_std=[0.5] * 3)
        pad = self.tokenizer.pad_token_id
        if pad is None:  # model_init: pad = unk when the tokenizer has none
            pad = self.tokenizer.unk_token_id if self.tokenizer.unk_token_id is not None else self.end_of_turn_id
        self.pad_token_id = int(pad)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def prompt_ids(self, placeholder: str, prompt: str, num_slots: int) -> list[int]:
        messages = [{"role": "user", "content": f"{placeholder}\n{prompt}"}]
        if self.spec.llm_type in ("mistral", "mixtral"):
            messages.insert(0, {"role": "system", "content": LLAMA2_SYSTEM})
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:  # noqa: BLE001 - a template that refuses a system turn: fold it into the user turn
            merged = [{"role": "user", "content": f"{LLAMA2_SYSTEM}\n\n{placeholder}\n{prompt}"}]
            text = self.tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        before, _, after = text.partition(placeholder)
        return self.ids(before) + [MM_SLOT] * num_slots + self.ids(after)

    def encode(self, clip: Clip, prompt: str) -> dict:
        frames = np.asarray(clip.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ModelError(f"{clip.path}: expected frames [N, H, W, 3], got shape {frames.shape}")
        wave = videollama2_audio(clip) if self.spec.audio is not None else None
        if frames.shape[0] == 0 and wave is None:
            what = "this visual-only VideoLLaMA 2 model cannot caption sound" if self.spec.audio is None else "no audio samples"
            raise ModelError(f"{clip.path}: audio-only clip (no frames): {what}")
        if frames.shape[0] == 1:  # an image: the release repeats it num_frames times
            frames = np.repeat(frames, self.spec.num_frames, axis=0)
        n = frames.shape[0]
        tokens = stc_num_tokens(n, self.spec.patches_per_side, self.spec.padding) if n else 0
        audit = {"visual_tokens": tokens, "audio_tokens": 0, "audio_seconds_fed": 0.0, "audio_cut": False}
        fbank = None
        if wave is not None:
            from avcap.models.fbank import kaldi_fbank

            fbank = kaldi_fbank(torch.from_numpy(wave) * 2**15)  # [2998, 128]
            audio_tokens = beats_num_tokens(fbank.shape[0], self.spec.audio)
            tokens += audio_tokens
            fed, total = videollama2_audio_seconds(clip)
            audit.update(audio_tokens=audio_tokens, audio_seconds_fed=fed, audio_cut=fed < total - 1e-6)
        pixels = (self.image_processor(images=list(frames), return_tensors="pt")["pixel_values"] if n
                  else torch.zeros((0, 3, int(self.spec.vision["image_size"]), int(self.spec.vision["image_size"]))))
        ids = self.prompt_ids("<video>" if n else "<audio>", prompt, tokens)
        return {"ids": ids, "pixels": pixels, "frames": n, "fbank": fbank, "audit": audit}

    def __call__(self, clips: list[Clip], prompts: list[str], answers: list[str] | None = None,
                 prefix: str | None = None) -> VideoLLaMA2Batch:
        """``answers`` are scored (labels); ``prefix`` is text each answer is forced to start with."""
        if not clips or len(clips) != len(prompts) or (answers is not None and len(answers) != len(clips)):
            raise ModelError(f"{len(clips)} clips, {len(prompts)} prompts, {len(answers or [])} answers")
        encoded = [self.encode(c, p) for c, p in zip(clips, prompts)]
        if prefix:
            for e in encoded:
                e["ids"] = e["ids"] + self.ids(prefix)
        tails = [self.ids(a) + [self.end_of_turn_id] for a in answers] if answers is not None else [[] for _ in clips]
        rows = [e["ids"] + t for e, t in zip(encoded, tails)]
        width = max(len(r) for r in rows)
        pad = [width - len(r) for r in rows]
        input_ids = torch.tensor([[self.pad_token_id] * p + r for p, r in zip(pad, rows)], dtype=torch.long)
        mask = torch.tensor([[0] * p + [1] * len(r) for p, r in zip(pad, rows)], dtype=torch.long)
        labels = torch.tensor([[IGNORE_INDEX] * (p + len(e["ids"])) + t for p, e, t in zip(pad, encoded, tails)])
        fbanks = [e["fbank"] for e in encoded if e["fbank"] is not None]
        return VideoLLaMA2Batch(
            input_ids=input_ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            pixel_values=torch.cat([e["pixels"] for e in encoded], dim=0),
            frames_per_clip=[e["frames"] for e in encoded],
            fbank=torch.stack(fbanks) if fbanks else torch.zeros((0, 0, 128)),
            has_audio=[e["fbank"] is not None for e in encoded],
            labels=labels if answers is not None else None,
            audit=[e["audit"] for e in encoded])


# ---------------------------------------------------------------------------------------------
# Family entry points (the registry and tiny.py call these)


def load(name_or_path, device: str = "cpu", dtype=None, name: str | None = None):
    """A Captioner for an official (or avcap-written) VideoLLaMA 2 checkpoint folder, hub id or ``tiny:*``."""
    from avcap.models.videollama2_checkpoints import load as _load

    return _load(name_or_path, device=device, dtype=dtype, name=name)


def build_tiny(out_dir, variant: str = "videollama2") -> Path:
    """Write a random-init miniature in the release's layout (``videollama2`` or ``videollama2-av``)."""
    from avcap.models.videollama2_tiny import build_tiny as _build

    return _build(out_dir, variant)
