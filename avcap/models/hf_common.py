"""Machinery shared by the transformers-native captioners (Qwen-Omni and Qwen-VL families).

Each family turns one clip + prompt into the processor's features (``encode``); this module
batches them (left padding), runs ``generate`` with the KV cache, decodes, and scores answers
for training (``sequence_logps``). Clips are encoded one at a time because the processors take
one frame rate for a whole call, while clips in a batch may be sampled at different rates;
the video processors resize per call anyway, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models.base import GenerationConfig, TrainExample

# ---------------------------------------------------------------------------------------------
# Devices, dtypes, checkpoint files


def resolve_device(device: str | None) -> str:
    """``"auto"``/None -> ``"cuda"`` when available, else ``"cpu"``; anything else is kept."""
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ModelError(f"device {device!r}: expected auto, cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelError(f"device {device!r}: no CUDA device is available here (use --device cpu or auto)")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ModelError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return device


def resolve_dtype(device: str, dtype: Any = None):
    """bf16 on CUDA and float32 on CPU unless a dtype (torch.dtype or name) is given."""
    import torch

    if dtype in (None, "", "auto"):
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16, "fp32": torch.float32, "float32": torch.float32, "float": torch.float32}
    if str(dtype).lower() not in names:
        raise ModelError(f"dtype {dtype!r}: expected one of auto, {', '.join(sorted(names))}")
    return names[str(dtype).lower()]


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: not found") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: unreadable ({err})") from None


def read_settings(path: Path) -> dict:
    """avcap's optional per-checkpoint settings (``avcap.json``); empty for official checkpoints."""
    file = Path(path) / "avcap.json"
    return read_json(file) if file.exists() else {}


def check_loaded(path, model_cls, info: dict, ignore_unexpected: tuple[str, ...] = ()) -> None:
    """Fail in one line when weights are missing (a half-random model captions garbage silently)."""
    missing = sorted(info.get("missing_keys") or [])
    mismatched = sorted(str(k) for k in info.get("mismatched_keys") or [])
    unexpected = sorted(k for k in info.get("unexpected_keys") or [] if not k.startswith(ignore_unexpected))
    problems = []
    for label, keys in (("missing", missing), ("mismatched", mismatched), ("unexpected", unexpected)):
        if keys:
            problems.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
    if problems:
        raise ModelError(f"{path}: weights do not fit {model_cls.__name__}: {'; '.join(problems)}")


# ---------------------------------------------------------------------------------------------
# Pixel budgets


@dataclass
class PixelBudget:
    """How many pixels each frame may keep (the qwen-vl-utils / qwen-omni-utils rule).

    A frame is resized (aspect kept, sides multiples of the patch factor) to at most
    ``max(min(max_pixels, total_pixels / n * frame_factor), 1.05 * min_pixels)`` pixels, so a
    long video shares ``total_pixels`` among its ``n`` frames (``frame_factor`` frames form one
    temporal patch). AVoCaDO: 401,408 per frame, 20,070,400 in all (REFERENCE.md).
    """

    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 768 * 28 * 28
    total_pixels: int = int(128000 * 28 * 28 * 0.9)
    frame_factor: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"pixel budget needs 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")
        if self.total_pixels < self.min_pixels:
            raise ValueError("total_pixels must be >= min_pixels")
        if self.frame_factor < 1:
            raise ValueError("frame_factor must be >= 1")

    def frame_max_pixels(self, num_frames: int) -> int:
        share = self.total_pixels / max(1, num_frames) * self.frame_factor
        return int(max(min(self.max_pixels, share), self.min_pixels * 1.05))


def video_size_kwargs(video_processor, budget: PixelBudget, num_frames: int) -> dict:
    """Per-clip ``videos_kwargs`` that make the checkpoint's video processor apply ``budget``.

    Qwen2-VL-style processors bound each frame's pixels; Qwen3-VL's bounds the whole clip
    (frames x height x width), so its bounds are scaled by the padded frame count.
    """
    frame_max = budget.frame_max_pixels(num_frames)
    min_pixels = min(budget.min_pixels, frame_max)
    if type(video_processor).__name__.startswith("Qwen3VL"):
        t = max(2, round(num_frames / 2) * 2)
        size = {"shortest_edge": min_pixels * t, "longest_edge": frame_max * t}
    else:
        size = {"shortest_edge": min_pixels, "longest_edge": frame_max}
    return {"size": size, "cap_pixels_per_frame": False, "do_sample_frames": False}


# ---------------------------------------------------------------------------------------------
# Clips -> processor inputs


def clip_frame_rate(clip: Clip) -> float:
    """Sampled frames per second of video, ``n / duration`` (qwen-vl-utils' ``sample_fps`` rule).

    The Qwen processors turn it into seconds per temporal patch (``2 / fps``), which places
    video tokens on the time axis shared with audio tokens (Qwen-Omni) or absolute time (2.5-VL).
    """
    n = max(1, int(np.asarray(clip.frames).shape[0]))
    if clip.duration_s > 0:
        return n / clip.duration_s
    times = np.asarray(clip.frame_times, dtype=np.float64)
    span = float(times[-1] - times[0]) if times.size >= 2 else 0.0
    return (n - 1) / span if span > 0 else 1.0


def video_input(clip: Clip, duplicate_frames: bool = False):
    """``(frames [N,H,W,3] uint8, VideoMetadata)`` for a processor, from an already sampled clip.

    The metadata counts time in milliseconds (fps=1000, frame index = time in ms), so
    timestamp-aware processors (Qwen3-VL's ``<t seconds>``; Qwen2.5-VL's seconds per temporal
    patch) see the clip's real frame times. ``duplicate_frames`` doubles every frame so each
    temporal patch holds one frame (Tarsier2's multi-image video input). A one-frame clip is
    doubled too: Qwen3-VL rejects clips shorter than one temporal patch.
    """
    from transformers.video_utils import VideoMetadata

    frames = np.asarray(clip.frames)
    times = np.asarray(clip.frame_times, dtype=np.float64)
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] != 3:
        raise ModelError(f"{clip.path}: expected frames [N,H,W,3] with N >= 1, got {frames.shape}")
    if duplicate_frames or frames.shape[0] == 1:
        frames, times = np.repeat(frames, 2, axis=0), np.repeat(times, 2)
    metadata = VideoMetadata(
        total_num_frames=max(1, int(round(clip.duration_s * 1000)), int(round(times[-1] * 1000)) + 1),
        fps=1000.0,
        width=int(frames.shape[2]),
        height=int(frames.shape[1]),
        duration=float(clip.duration_s),
        frames_indices=[int(round(t * 1000)) for t in times],
    )
    return frames, metadata


# ---------------------------------------------------------------------------------------------
# Batching

_SEQUENCE_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids")
_TIME_PADDED_KEYS = ("input_features", "feature_attention_mask")


def collate(features: list[dict], pad_token_id: int) -> dict:
    """Stack per-clip processor outputs into one left-padded batch.

    Token sequences are left-padded (generation appends on the right); vision patches and grids
    are concatenated over the clips that have them (the models take them flattened over the
    batch); audio features are right-padded in time, which their ``feature_attention_mask``
    already marks.
    """
    import torch
    import torch.nn.functional as F

    # Keys in the order first seen: an audio-only clip (Qwen-Omni) brings no video keys, and the
    # video tensors of the other clips are concatenated without it.
    keys = list(dict.fromkeys(key for f in features for key in f.keys()))
    batch: dict[str, Any] = {}
    for key in keys:
        values = [f[key] for f in features if key in f]
        if key in _SEQUENCE_KEYS and len(values) != len(features):
            raise ModelError(f"collate: only {len(values)} of {len(features)} examples have {key!r}")
        if key in _SEQUENCE_KEYS:
            width = max(v.shape[-1] for v in values)
            fill = pad_token_id if key == "input_ids" else 0
            batch[key] = torch.cat([F.pad(v, (width - v.shape[-1], 0), value=fill) for v in values], dim=0)
        elif key in _TIME_PADDED_KEYS:
            width = max(v.shape[-1] for v in values)
            batch[key] = torch.cat([F.pad(v, (0, width - v.shape[-1]), value=0) for v in values], dim=0)
        elif isinstance(values[0], torch.Tensor):
            batch[key] = torch.cat([v.reshape(-1, *v.shape[1:]) if v.dim() else v.reshape(1) for v in values], dim=0)
        else:
            batch[key] = [item for v in values for item in (v if isinstance(v, (list, tuple)) else [v])]
    return batch


def torch_cat(left, right):
    """``left`` [1, L] then ``right`` [1, K] along the sequence, in ``left``'s dtype."""
    import torch

    return torch.cat([left, right.to(left.dtype)], dim=1)


def to_device(batch: dict, device, dtype) -> dict:
    import torch

    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
        out[key] = value
    return out


def hf_generation_config(generation: GenerationConfig, eos_token_ids: list[int], pad_token_id: int,
                         default_max_new_tokens: int = 2048):
    """A fresh transformers GenerationConfig, so a checkpoint's own defaults cannot leak in."""
    from transformers import GenerationConfig as HFGenerationConfig

    kwargs: dict[str, Any] = dict(
        max_new_tokens=generation.max_new_tokens or default_max_new_tokens,
        do_sample=generation.do_sample,
        repetition_penalty=generation.repetition_penalty,
        eos_token_id=eos_token_ids,
        pad_token_id=pad_token_id,
        use_cache=True,
    )
    if generation.do_sample:
        # Plain temperature + nucleus sampling: top-k off (transformers would otherwise keep 50).
        kwargs.update(temperature=generation.temperature, top_p=generation.top_p, top_k=0)
    return HFGenerationConfig(**kwargs)


class QwenCaptioner:
    """Generation and answer scoring over a transformers ``*ForConditionalGeneration`` model.

    Subclasses set ``family``/``frame_policy`` and implement ``encode(clip, prompt)``, which
    returns the processor's features (batch of one, ``return_tensors="pt"``) for the chat
    prompt ending in the assistant turn's header.
    """

    family = ""
    frame_policy = ""
    default_prompt: str
    default_max_new_tokens = 2048
    end_of_turn = "<|im_end|>"
    generate_kwargs: dict = {}

    def __init__(self, name: str, model, processor, device: str, dtype):
        self.name = name
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.device = device
        self.dtype = dtype
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            raise ModelError(f"{name}: the tokenizer defines no pad token")
        if self.end_of_turn not in self.tokenizer.get_vocab():
            raise ModelError(f"{name}: the tokenizer lacks the end-of-turn token {self.end_of_turn}")
        self.end_of_turn_id = int(self.tokenizer.convert_tokens_to_ids(self.end_of_turn))
        eos = [self.end_of_turn_id]
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(int(self.tokenizer.eos_token_id))
        self.eos_token_ids = eos

    def encode(self, clip: Clip, prompt: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    hears_audio = False  # Qwen-VL / Tarsier2 take frames only; OmniCaptioner hears the track

    def input_audit(self) -> list[dict]:
        """Token counts and audio seconds of the clips of the last ``caption`` call."""
        return list(getattr(self, "_last_audit", []))

    def _media_token_ids(self) -> dict[str, int]:
        """The processor's placeholder token ids per modality (``audio_token``, ``video_token``, ``image_token``)."""
        if getattr(self, "_token_ids", None) is None:
            ids = {}
            for kind in ("audio", "video", "image"):
                token = getattr(self.processor, f"{kind}_token", None)
                if isinstance(token, str):
                    index = self.tokenizer.convert_tokens_to_ids(token)
                    if isinstance(index, int) and index >= 0 and index != self.tokenizer.unk_token_id:
                        ids[kind] = index
            self._token_ids = ids
        return self._token_ids

    def audio_fed(self, clip: Clip) -> tuple[float, bool]:
        """(seconds of ``clip``'s track the processor keeps, whether it cut some off)."""
        return 0.0, False

    def _audit_one(self, clip: Clip, feats: dict) -> dict:
        ids = feats["input_ids"][0]
        counts = {kind: int((ids == index).sum()) for kind, index in self._media_token_ids().items()}
        audio_tokens = counts.get("audio", 0)
        seconds, cut = self.audio_fed(clip) if audio_tokens else (0.0, False)
        return {"audio_tokens": audio_tokens, "visual_tokens": counts.get("video", 0) + counts.get("image", 0),
                "audio_seconds_fed": seconds, "audio_cut": cut}

    def _batch(self, clips: list[Clip], prompts: list[str], prefix: str | None = None) -> dict:
        features = []
        self._last_audit = []
        for clip, prompt in zip(clips, prompts):
            feats = dict(self.encode(clip, prompt))
            self._last_audit.append(self._audit_one(clip, feats))  # before the prefix: media tokens only
            if prefix:  # the answer is forced to start with the prefix
                extra = self.tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]
                feats["input_ids"] = torch_cat(feats["input_ids"], extra)
                feats["attention_mask"] = torch_cat(feats["attention_mask"], extra * 0 + 1)
                if "mm_token_type_ids" in feats:
                    feats["mm_token_type_ids"] = torch_cat(feats["mm_token_type_ids"], extra * 0)
            features.append(feats)
        return collate(features, self.tokenizer.pad_token_id)

    def _generate_kwargs(self, clips: list[Clip]) -> dict:
        return self.generate_kwargs

    def caption(self, clips: list[Clip], prompt: str, generation: GenerationConfig, prefix: str | None = None) -> list[str]:
        """Captions clip-major; with ``prefix`` each is the prefix followed by the continuation."""
        import torch

        if not clips:
            return []
        expanded = [clip for clip in clips for _ in range(generation.num_samples)]  # clip-major
        batch = to_device(self._batch(expanded, [prompt] * len(expanded), prefix), self.device, self.dtype)
        self._last_audit = self._last_audit[::generation.num_samples]  # one entry per clip
        if generation.seed is not None:
            torch.manual_seed(generation.seed)
        config = hf_generation_config(generation, self.eos_token_ids, self.tokenizer.pad_token_id,
                                      self.default_max_new_tokens)
        with torch.inference_mode():
            out = self.model.generate(**batch, generation_config=config, **self._generate_kwargs(clips))
        new_tokens = out[:, batch["input_ids"].shape[1]:]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [((prefix or "") + t).strip() for t in texts]

    def sequence_logps(self, batch: list[TrainExample], return_counts: bool = False, per_token: bool = False):
        """Summed log p(answer tokens + end-of-turn | clip, prompt) per example, shape [B].

        With ``return_counts`` also the number of scored answer tokens per example, [B].
        With ``per_token`` instead ``(token_logps [B, T], mask [B, T])``, answer tokens left-aligned
        (GRPO's per-token ratio and KL).

        The LM head runs only on the positions that predict answer tokens, so memory grows
        with the answer length rather than the (much longer) audio-visual prompt.
        """
        import torch

        if not batch:
            raise ModelError(f"{self.name}: sequence_logps needs at least one example")
        features = []
        answer_lengths = []
        for ex in batch:
            feats = dict(self.encode(ex.clip, ex.prompt))
            answer = self.tokenizer(ex.answer, add_special_tokens=False)["input_ids"] + [self.end_of_turn_id]
            extra = torch.tensor([answer], dtype=feats["input_ids"].dtype)
            feats["input_ids"] = torch.cat([feats["input_ids"], extra], dim=1)
            feats["attention_mask"] = torch.cat([feats["attention_mask"], torch.ones_like(extra)], dim=1)
            if "mm_token_type_ids" in feats:
                feats["mm_token_type_ids"] = torch.cat([feats["mm_token_type_ids"], torch.zeros_like(extra)], dim=1)
            features.append(feats)
            answer_lengths.append(len(answer))
        inputs = to_device(collate(features, self.tokenizer.pad_token_id), self.device, self.dtype)
        hidden = self.model.model(**inputs, **self._generate_kwargs([ex.clip for ex in batch])).last_hidden_state  # [B, L, H]
        seq_len = inputs["input_ids"].shape[1]
        rows, cols = [], []
        for b, n in enumerate(answer_lengths):  # left padding: answers end at the last position
            rows += [b] * n
            cols += list(range(seq_len - n, seq_len))
        rows_t = torch.tensor(rows, device=hidden.device)
        cols_t = torch.tensor(cols, device=hidden.device)
        logits = self.model.lm_head(hidden[rows_t, cols_t - 1]).float()  # position t-1 predicts token t
        token_logps = torch.log_softmax(logits, dim=-1).gather(-1, inputs["input_ids"][rows_t, cols_t][:, None])[:, 0]
        if per_token:
            return scatter_token_logps(token_logps, rows_t, answer_lengths)
        logps = torch.zeros(len(batch), device=hidden.device, dtype=token_logps.dtype).index_add(0, rows_t, token_logps)
        return (logps, torch.tensor(answer_lengths, device=hidden.device)) if return_counts else logps



def scatter_token_logps(token_logps, rows, lengths: list[int]):
    """Flat answer-token log-probs (example ``rows[i]``, in order) as ``([B, T] zero-padded, mask [B, T])``."""
    import torch

    positions = torch.cat([torch.arange(n, device=token_logps.device) for n in lengths])
    width = max(lengths)
    out = token_logps.new_zeros(len(lengths), width).index_put((rows, positions), token_logps)
    mask = torch.zeros(len(lengths), width, dtype=torch.bool, device=token_logps.device)
    mask[rows, positions] = True
    return out, mask


def pad_token_logps(parts: list, order):
    """Concatenate per-group ``(token_logps, mask)`` of different widths, rows put back in ``order``."""
    import torch

    width = max(t.shape[1] for t, _ in parts)
    logps = torch.cat([torch.nn.functional.pad(t, (0, width - t.shape[1])) for t, _ in parts])
    mask = torch.cat([torch.nn.functional.pad(m, (0, width - m.shape[1])) for _, m in parts])
    return logps[order], mask[order]


def no_init_weights():
    """A context in which transformers modules skip their random initialisation (weights load next)."""
    try:
        from transformers.initialization import no_init_weights as _no_init
    except ImportError:  # transformers < 5
        from transformers.modeling_utils import no_init_weights as _no_init
    return _no_init()


@contextlib.contextmanager
def default_dtype(dtype):
    """Build modules in ``dtype`` (a torch dtype) and restore the previous default afterwards."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def load_checkpoint_tokenizer(folder: Path, need_chat_template: bool = False):
    """The tokenizer of a checkpoint folder whose config.json names a model type transformers does
    not know (video-SALMONN 2, VideoLLaMA 2): its warnings are silenced, a failure is one line."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as err:  # noqa: BLE001 - any tokenizer failure is a broken checkpoint folder
        raise ModelError(f"{folder}: cannot load the tokenizer ({type(err).__name__}: {err})") from None
    finally:
        hf_logging.set_verbosity(previous)
    if need_chat_template and not getattr(tokenizer, "chat_template", None):
        raise ModelError(f"{folder}: the tokenizer has no chat template")
    return tokenizer
