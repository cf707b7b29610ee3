"""Clips + prompts (+ answers) -> one left-padded batch of model inputs, for both releases.

Each clip becomes one user turn holding its interleaved audio-visual block (eqs. 4-6), or, for
an audio-only clip (no frames: an ASR or audio-caption row), its audio tokens alone in the
same place -- the 2+ release's ``<audio>`` placeholder, the first release's modality "audio":

* 2+: ``<|vision_start|>`` + per temporal grid ``<|video_pad|>`` x h·w/4 then its audio group of
  ``<|audio_pad|>`` + ``<|vision_end|>\\n`` + prompt, as the release's ``generate_id_target``
  writes it, with the chat template it forces (plain ChatML and a system turn);
* first release: the LLaVA ``preprocess_qwen`` layout, the block spliced where ``<image>``
  was; it has no placeholder token, so avcap marks visual / audio slots with the negative ids
  ``VISUAL_SLOT`` (the release's ``IMAGE_TOKEN_INDEX``) and ``AUDIO_SLOT``; which audio token
  fills each slot is ``audio_order`` (the release's layout repeats some, see ``interleave.py``).
  A visual-only clip (``use_audio: false``) gets the release's time tokens after each frame
  when the checkpoint has ``add_time_token``, zero-padded as it pads them (``ZERO_SLOT``).

An image clip (a row's ``image``) is a 2+ ``<image>``: ``<|image_pad|>`` tokens of Qwen2.5-VL's
image processor at the release's inference budget; the first release takes no images.

Answers (for ``sequence_logps``) are tokenized apart from the prompt, so a caption is scored
on exactly the ids generation produced after ``<|im_start|>assistant\\n``; the scored labels
are the answer, ``<|im_end|>`` and ``\\n``, as the release's training targets.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models.salmonn2.audio import audio_features, whisper_feature_extractor
from avcap.models.salmonn2.config import PlusSpec, V1Spec
from avcap.models.salmonn2.interleave import (
    AUDIO,
    VISUAL,
    grouped_layout,
    interleave_layout,
    layout_kinds,
    paper_audio_groups,
    release_audio_groups,
    timed_audio_boundaries,
)
from avcap.models.salmonn2.rope import (
    RELEASE_INFERENCE,
    TRAINING,
    plus_rope_positions,
    release_inference_positions,
)

IGNORE_INDEX = -100
VISUAL_SLOT = -200
AUDIO_SLOT = -300
ZERO_SLOT = -400  # a zero embedding: the padding of the first release's per-frame time tokens
INTERLEAVE_MODES = ("release", "paper")
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
ASSISTANT = "<|im_start|>assistant\n"
ANSWER_END = "<|im_end|>\n"


@dataclass
class Salmonn2Batch:
    """Model inputs of B examples, left-padded to length L."""

    input_ids: torch.Tensor  # [B, L]; v1 marks visual/audio slots with VISUAL_SLOT / AUDIO_SLOT
    attention_mask: torch.Tensor  # [B, L]
    position_ids: torch.Tensor  # [3, B, L] M-RoPE (2+) or [B, L] (v1)
    visual: torch.Tensor  # 2+: pixel_values_videos [patches, C·2·14·14]; v1: pixel_values [frames, 3, S, S]
    video_grid_thw: torch.Tensor | None  # [V, 3] for the V clips with frames (2+ only; None when V = 0)
    audio_features: torch.Tensor  # [chunks, mel bins, 3000], all clips in order
    chunks_per_clip: list[int]  # [B]
    labels: torch.Tensor | None  # [B, L], IGNORE_INDEX outside the answers
    audio_order: list[torch.Tensor] | None = None  # [B] x [slots]: audio token filling each AUDIO_SLOT (v1)
    images: torch.Tensor | None = None  # 2+: pixel_values of image clips [patches, C·2·14·14]
    image_grid_thw: torch.Tensor | None = None  # [I, 3] for the I image clips

    def to(self, device, dtype=None) -> Salmonn2Batch:
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                floating = value.is_floating_point() and dtype is not None
                value = value.to(device=device, dtype=dtype if floating else value.dtype)
            moved[f.name] = value
        return Salmonn2Batch(**moved)


@dataclass
class PlusVideoSettings:
    """Frame pixel budget of the 2+ release's evaluation (README: --max_frames 768 --max_pixels 61250).

    Fewer frames than ``max_frames`` get ``0.95 · max_frames / N`` times the per-frame budget
    (``process_video_frames`` in the release's ``dataset.py``); ``min_frame_pixels`` is its default.
    """

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    image_mean: tuple = (0.48145466, 0.4578275, 0.40821073)
    image_std: tuple = (0.26862954, 0.26130258, 0.27577711)
    max_frame_pixels: int = 61250
    min_frame_pixels: int = 4 * 28 * 28
    max_frames: int = 768
    # Images at the release's inference settings (inference.py: max_pixels 61250; min_pixels default).
    image_max_pixels: int = 61250
    image_min_pixels: int = 16 * 28 * 28

    def __post_init__(self) -> None:
        if min(self.patch_size, self.temporal_patch_size, self.merge_size, self.max_frame_pixels,
               self.min_frame_pixels, self.max_frames, self.image_max_pixels, self.image_min_pixels) < 1:
            raise ModelError(f"2+ video settings must be positive: {self}")

    def frame_max_pixels(self, num_frames: int) -> float:
        from avcap.media.sampling import salmonn2_plus_frame_max_pixels

        return salmonn2_plus_frame_max_pixels(num_frames, self.max_frame_pixels, self.max_frames)


class _Processor:
    """Shared part: tokenizing turns, audio features, padding into a batch."""

    def __init__(self, tokenizer, aligner_cfg):
        self.tokenizer = tokenizer
        self.aligner_cfg = aligner_cfg
        self.feature_extractor = whisper_feature_extractor(aligner_cfg)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise ModelError("tokenizer has neither a pad nor an eos token")
        self.pad_token_id = int(pad)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def _audio(self, clip: Clip) -> tuple[np.ndarray, int]:
        audio = np.asarray(clip.audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:  # l = 0: no audio tokens (see interleave.py)
            return np.zeros((0, self.aligner_cfg.num_mel_bins, 2 * self.aligner_cfg.encoder_frames), np.float32), 0
        feats = audio_features(audio, self.feature_extractor, self.aligner_cfg.chunk_s)
        return feats, feats.shape[0]

    def __call__(self, clips: list[Clip], prompts: list[str], answers: list[str] | None = None,
                 positions: str = TRAINING, prefixes: list[str | None] | None = None) -> Salmonn2Batch:
        """``positions``: "training" (scoring, training) or "release-inference" (2+ generation as
        released); ``prefixes``: text each answer is forced to start with (the first release's ``prefix``)."""
        if len(clips) != len(prompts) or (answers is not None and len(answers) != len(clips)):
            raise ModelError(f"{len(clips)} clips, {len(prompts)} prompts, {len(answers or [])} answers")
        if not clips:
            raise ModelError("no clips to process")
        encoded = [self.encode(clip, prompt) for clip, prompt in zip(clips, prompts)]
        if prefixes is not None:
            for item, prefix in zip(encoded, prefixes):
                item["ids"] = item["ids"] + (self.ids(prefix) if prefix else [])
        tails = [self.ids(answer) + self.ids(ANSWER_END) for answer in answers] if answers is not None else None
        return self.collate(encoded, tails, positions)

    def collate(self, encoded: list[dict], tails: list[list[int]] | None, mode: str = TRAINING) -> Salmonn2Batch:
        rows, labels, positions = [], [], []
        for i, item in enumerate(encoded):
            tail = tails[i] if tails is not None else []
            rows.append(item["ids"] + tail)
            labels.append([IGNORE_INDEX] * len(item["ids"]) + tail)
            positions.append(self.positions(item, tail, mode))
        width = max(len(r) for r in rows)
        pad = [width - len(r) for r in rows]
        input_ids = torch.tensor([[self.pad_token_id] * p + r for p, r in zip(pad, rows)], dtype=torch.long)
        mask = torch.tensor([[0] * p + [1] * len(r) for p, r in zip(pad, rows)], dtype=torch.long)
        label_t = torch.tensor([[IGNORE_INDEX] * p + r for p, r in zip(pad, labels)], dtype=torch.long)
        if positions[0] is None:  # 1D positions from the mask: left padding does not shift them
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        else:
            position_ids = torch.zeros((3, len(rows), width), dtype=torch.long)
            for b, pos in enumerate(positions):
                position_ids[:, b, pad[b]:] = torch.from_numpy(pos)
        grids = [item["grid"] for item in encoded if item.get("grid") is not None and not item.get("image")]
        image_grids = [item["grid"] for item in encoded if item.get("image")]
        orders = [item.get("audio_order") for item in encoded]
        return Salmonn2Batch(
            input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
            visual=torch.cat([torch.as_tensor(item["visual"]) for item in encoded if not item.get("image")]
                             or [torch.as_tensor(encoded[0]["visual"])[:0]], dim=0),
            video_grid_thw=torch.tensor(grids, dtype=torch.long) if grids else None,
            audio_features=torch.from_numpy(_stack_chunks([item["audio"] for item in encoded])),
            chunks_per_clip=[item["chunks"] for item in encoded],
            labels=label_t if tails is not None else None,
            audio_order=([torch.as_tensor(o if o is not None else np.arange(item["num_audio"]), dtype=torch.long)
                          for o, item in zip(orders, encoded)] if any(o is not None for o in orders) else None),
            images=torch.cat([torch.as_tensor(item["visual"]) for item in encoded if item.get("image")])
            if image_grids else None,
            image_grid_thw=torch.tensor(image_grids, dtype=torch.long) if image_grids else None,
        )

    def encode(self, clip: Clip, prompt: str) -> dict:
        raise NotImplementedError

    def positions(self, item: dict, tail: list[int], mode: str = TRAINING):
        return None


def _stack_chunks(features: list[np.ndarray]) -> np.ndarray:
    """All clips' chunk features, [chunks, mel bins, frames]; one clip's are used as they are
    (a 2 h clip's features are 240 chunks: no second copy of them)."""
    return features[0] if len(features) == 1 else np.concatenate(features, axis=0)


def _frames(clip: Clip) -> np.ndarray:
    """Frames [N, H, W, 3]; N = 0 is an audio-only clip (``load_audio_clip``), which needs audio."""
    frames = np.asarray(clip.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ModelError(f"{clip.path}: expected frames [N, H, W, 3], got shape {frames.shape}")
    if frames.shape[0] == 0 and np.asarray(clip.audio).size == 0:
        raise ModelError(f"{clip.path}: nothing to encode: the clip has no frames and no audio samples")
    return frames


class PlusProcessor(_Processor):
    """2+ inputs: Qwen2.5-VL video patches, Whisper features, token layout and M-RoPE positions."""

    def __init__(self, tokenizer, spec: PlusSpec, video: PlusVideoSettings):
        super().__init__(tokenizer, spec.aligner)
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

        self.spec, self.video = spec, video
        self.video_processor = Qwen2VLVideoProcessor(
            patch_size=video.patch_size, temporal_patch_size=video.temporal_patch_size,
            merge_size=video.merge_size, image_mean=list(video.image_mean), image_std=list(video.image_std),
            do_sample_frames=False, cap_pixels_per_frame=False,
        )
        from transformers import Qwen2VLImageProcessor

        self.image_processor = Qwen2VLImageProcessor(
            patch_size=video.patch_size, temporal_patch_size=video.temporal_patch_size, merge_size=video.merge_size,
            image_mean=list(video.image_mean), image_std=list(video.image_std),
            min_pixels=video.image_min_pixels, max_pixels=video.image_max_pixels,
        )
        for name, token_id in (("<|audio_pad|>", spec.audio_token_id), ("<|video_pad|>", spec.video_token_id),
                               ("<|vision_start|>", spec.vision_start_token_id)):
            if tokenizer.convert_tokens_to_ids(name) != token_id:
                raise ModelError(f"tokenizer maps {name} to {tokenizer.convert_tokens_to_ids(name)}, "
                                 f"config.json says {token_id}")

    def encode(self, clip: Clip, prompt: str) -> dict:
        frames = _frames(clip)
        n = frames.shape[0]
        if clip.is_image:
            return self._encode_image(frames, prompt)
        feats, chunks = self._audio(clip)
        l_tokens = chunks * self.aligner_cfg.tokens_per_chunk
        if n == 0:
            # Audio only: the release writes its "<audio>" placeholder as <|vision_start|>, all the
            # clip's <|audio_pad|> tokens, <|vision_end|> (generate_id_target), and sends no pixels.
            visual = torch.zeros((0, 3 * self.video.temporal_patch_size * self.video.patch_size**2))
            block, grid, seconds_per_grid = [self.spec.audio_token_id] * l_tokens, None, 0.0
        else:
            # transformers takes an int budget: the same frames as the release's float one (an integer
            # area exceeds x exactly when it exceeds floor(x)); frames the 2+ policy sized pass unchanged.
            size = {"shortest_edge": self.video.min_frame_pixels, "longest_edge": int(self.video.frame_max_pixels(n))}
            out = self.video_processor(videos=[frames], size=size, return_tensors="pt")
            visual = out["pixel_values_videos"]
            grid = [int(x) for x in out["video_grid_thw"][0]]
            per_grid = grid[1] * grid[2] // self.video.merge_size**2
            # second_per_grid_ts = temporal_patch_size / fps with fps = N / duration (release's dataset.py).
            duration = clip.duration_s if clip.duration_s > 0 else max(float(clip.frame_times[-1]), 1e-3)
            seconds_per_grid = self.video.temporal_patch_size * duration / n
            layout = interleave_layout(per_grid, timed_audio_boundaries(grid[0], l_tokens, seconds_per_grid))
            kinds = layout_kinds(layout)
            block = np.where(kinds == VISUAL, self.spec.video_token_id, self.spec.audio_token_id).tolist()
        ids = (self.ids(SYSTEM + "<|im_start|>user\n<|vision_start|>") + block
               + self.ids(f"<|vision_end|>\n{prompt}<|im_end|>\n" + ASSISTANT))
        return {"ids": ids, "visual": visual, "grid": grid, "audio": feats, "chunks": chunks,
                "seconds_per_grid": seconds_per_grid, "num_audio": l_tokens}

    def _encode_image(self, frames: np.ndarray, prompt: str) -> dict:
        # The release's "<image>": <|vision_start|> <|image_pad|> x t·h·w/4 <|vision_end|>, then "\n" + prompt.
        out = self.image_processor(images=[frames[0]], return_tensors="pt")
        grid = [int(x) for x in out["image_grid_thw"][0]]
        block = [self.spec.image_token_id] * (grid[0] * grid[1] * grid[2] // self.video.merge_size**2)
        ids = (self.ids(SYSTEM + "<|im_start|>user\n<|vision_start|>") + block
               + self.ids(f"<|vision_end|>\n{prompt}<|im_end|>\n" + ASSISTANT))
        no_audio = np.zeros((0, self.aligner_cfg.num_mel_bins, 2 * self.aligner_cfg.encoder_frames), np.float32)
        return {"ids": ids, "visual": out["pixel_values"], "grid": grid, "audio": no_audio, "chunks": 0,
                "seconds_per_grid": 0.0, "num_audio": 0, "image": True}

    def positions(self, item: dict, tail: list[int], mode: str = TRAINING) -> np.ndarray:
        # Each example alone, as the release computes them for a batch of one: its get_rope_index
        # picks one branch per batch, so a batch mixing audio-only and video rows would misplace one kind.
        grid = tuple(item["grid"]) if item["grid"] is not None else None
        if item.get("image"):  # the image branch (0 s per grid) is the same in training and generation
            return plus_rope_positions(item["ids"] + tail, video_token_id=self.spec.image_token_id,
                                       audio_token_id=self.spec.audio_token_id, grid_thw=grid,
                                       spatial_merge_size=self.spec.spatial_merge_size, seconds_per_grid=0.0,
                                       num_audio=0)
        if mode == RELEASE_INFERENCE:
            return release_inference_positions(item["ids"] + tail, video_token_id=self.spec.video_token_id,
                                               grid_thw=grid, spatial_merge_size=self.spec.spatial_merge_size)
        if mode != TRAINING:
            raise ModelError(f"positions {mode!r}: choose training or release-inference")
        return plus_rope_positions(
            item["ids"] + tail, video_token_id=self.spec.video_token_id, audio_token_id=self.spec.audio_token_id,
            grid_thw=grid, spatial_merge_size=self.spec.spatial_merge_size,
            seconds_per_grid=item["seconds_per_grid"], num_audio=item["num_audio"],
        )


class V1Processor(_Processor):
    """First-release inputs: 384x384 SigLIP frames, Whisper features, slot layout (1D positions)."""

    def __init__(self, tokenizer, spec: V1Spec, interleave: str = "release"):
        super().__init__(tokenizer, spec.aligner)
        from transformers.image_utils import PILImageResampling

        try:  # transformers 5: the PIL backend; its default SiglipImageProcessor resizes with torchvision,
            # whose bicubic differs from PIL's by one grey level on some pixels (the release resizes with PIL)
            from transformers import SiglipImageProcessorPil as SiglipImageProcessor
        except ImportError:  # transformers 4: SiglipImageProcessor is PIL-based
            from transformers import SiglipImageProcessor

        self.spec = spec
        self.interleave = interleave  # "release" (the code the weights were trained with) or "paper" (eq. 4)
        side = int(spec.vision["image_size"])
        # The release's SigLipImageProcessor: plain PIL resize to a square (bicubic), scale, normalize 0.5/0.5.
        self.image_processor = SiglipImageProcessor(
            do_resize=True, size={"height": side, "width": side}, resample=PILImageResampling.BICUBIC,
            do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3,
        )

    def encode(self, clip: Clip, prompt: str) -> dict:
        if clip.is_image:
            raise ModelError(f"{clip.path}: the first video-SALMONN 2 release takes videos and audio, not images "
                             "(its audio-visual dataset reads no 'image'); use a 2+, omni or vl model")
        if self.interleave not in INTERLEAVE_MODES:
            raise ModelError(f"interleave {self.interleave!r}: choose {' or '.join(INTERLEAVE_MODES)}")
        frames = _frames(clip)
        feats, chunks = self._audio(clip)
        l_tokens = chunks * self.aligner_cfg.tokens_per_chunk
        order = None
        if frames.shape[0] == 0:
            # Audio only (modality "audio" in the release): the clip's speech embeddings fill the
            # <image> slot whole (prepare_inputs_labels_for_multimodal), with 1D positions as ever.
            side = int(self.spec.vision["image_size"])
            pixels = torch.zeros((0, 3, side, side))
            block = [AUDIO_SLOT] * l_tokens
        elif l_tokens == 0:
            pixels = self.image_processor(images=list(frames), return_tensors="pt")["pixel_values"]
            block = self._visual_only_block(frames.shape[0], clip.duration_s)
        else:
            n = frames.shape[0]
            pixels = self.image_processor(images=list(frames), return_tensors="pt")["pixel_values"]
            if self.interleave == "release":
                groups, tail = release_audio_groups(n, l_tokens, clip.duration_s)
            else:
                groups, tail = paper_audio_groups(n, l_tokens)
            layout = grouped_layout(self.spec.tokens_per_frame, groups, tail)
            block = np.where(layout_kinds(layout) == VISUAL, VISUAL_SLOT, AUDIO_SLOT).tolist()
            order = np.asarray([index for kind, index in layout if kind == AUDIO], dtype=np.int64)
        # preprocess_qwen: role ids + "\n" + <image> + "\n" + ids("\n" + prompt) (the user text is "<image>\n...").
        ids = (self.ids(SYSTEM + "<|im_start|>user\n") + block + self.ids("\n") + self.ids("\n" + prompt)
               + self.ids("<|im_end|>\n" + ASSISTANT))
        return {"ids": ids, "visual": pixels, "grid": None, "audio": feats, "chunks": chunks,
                "audio_order": order, "num_audio": l_tokens}

    def _visual_only_block(self, n: int, duration_s: float) -> list[int]:
        """Frames without audio (the release's modality "video"): with ``add_time_token`` each frame's
        tokens are followed by its time, ``str(round(T / n * k, 1))`` for frame k = 1..n, tokenized and
        zero-padded to the longest (``pad_sequence``), as ``prepare_inputs_labels_for_multimodal`` does."""
        visual = [VISUAL_SLOT] * self.spec.tokens_per_frame
        if not self.spec.add_time_token:
            return visual * n
        step = duration_s / n
        times = [self.ids(str(round(step * k, 1))) for k in range(1, n + 1)]
        width = max(len(t) for t in times)
        return [slot for t in times for slot in visual + t + [ZERO_SLOT] * (width - len(t))]
