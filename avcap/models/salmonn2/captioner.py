"""The Captioner of the salmonn2 family: load an official checkpoint, caption clips, score answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models.base import GenerationConfig, TrainExample
from avcap.models.hf_common import (
    default_dtype,
    load_checkpoint_tokenizer,
    no_init_weights,
    read_settings,
    resolve_device,
    resolve_dtype,
)
from avcap.models.salmonn2.checkpoints import CheckpointFiles, load_official, save_official
from avcap.models.salmonn2.config import PLUS, detect_variant, plus_spec, v1_spec
from avcap.models.salmonn2.processing import (
    IGNORE_INDEX,
    INTERLEAVE_MODES,
    PlusProcessor,
    PlusVideoSettings,
    V1Processor,
)
from avcap.models.salmonn2.rope import POSITION_MODES, RELEASE_INFERENCE, TRAINING

_HUB_FILES = ["*.json", "*.safetensors", "*.bin", "*.txt", "*.model", "*.jinja", "*.tiktoken"]

# The caption prompt each release runs: the 2+ ``inference.py`` prompt; for the first release the
# captioning question of its own demo config (``scripts/demo_data.yaml``; its test set carries
# per-row prompts, which avcap uses when captioning that set).
PLUS_PROMPT = (
    "Provide a comprehensive description of all the content in the video, leaving out no details. "
    "Be sure to include as much of the audio information as possible, and ensure that your "
    "descriptions of the audio and video are closely aligned."
)
V1_PROMPT = (
    "Give a detailed account of everything in the video, capturing all the specifics. While doing so, "
    "also include as much information from the audio as possible, ensuring that the descriptions of "
    "audio and video are well-synchronized."
)
# Both releases evaluate with at most 1024 new tokens (2+ inference.py / train_qwen.py; first
# release TrainingArguments.max_new_tokens).
MAX_NEW_TOKENS = 1024


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: not found") from None
    except (OSError, ValueError) as err:
        raise ModelError(f"{path}: unreadable ({err})") from None


def resolve_checkpoint(name_or_path: str) -> Path:
    """A local folder as is; anything else is a hub id fetched with ``snapshot_download``."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists() or name_or_path.startswith((".", "/", "~")):
        raise ModelError(f"{name_or_path}: not a checkpoint folder")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name_or_path, allow_patterns=_HUB_FILES))
    except Exception as err:  # noqa: BLE001 - network, auth, unknown repo: one line for the user
        raise ModelError(f"{name_or_path}: cannot fetch from the model hub ({type(err).__name__}: {err})") from None


class Salmonn2Captioner:
    """video-SALMONN 2 / 2+ behind avcap's Captioner interface.

    ``model`` is the torch module (``parameter_groups()`` names its frozen/trainable parts),
    ``processor(clips, prompts, answers=None)`` builds a :class:`Salmonn2Batch`.
    """

    family = "salmonn2"
    default_max_new_tokens = MAX_NEW_TOKENS

    def __init__(self, name: str, model: torch.nn.Module, processor, tokenizer, config: dict,
                 source: Path | None = None):
        self.name = name
        self.source = source  # the checkpoint folder it was loaded from
        self.model = model
        self.processor = processor
        self.tokenizer = tokenizer
        self.config = config  # the checkpoint's own config.json
        self.variant = model.variant
        plus = self.variant == PLUS
        self.default_prompt = PLUS_PROMPT if plus else V1_PROMPT
        # Generation positions of 2+ (rope.py): as the release's generate() computes them. Scoring
        # and training always use the training positions.
        self.caption_positions = RELEASE_INFERENCE if plus else TRAINING
        self.frame_policy = "salmonn2-plus" if plus else "salmonn2"
        stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
        self.eos_token_ids = [i for i in stops if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id]

    @property
    def frame_policy(self):
        """The media policy clips are decoded with; setting a 2+ policy also sets the processor's
        per-frame pixel budget to it, so the model resizes exactly as the policy sized the frames."""
        return self._frame_policy

    @frame_policy.setter
    def frame_policy(self, policy) -> None:
        import dataclasses

        from avcap.media.policies import Salmonn2PlusPolicy, get_policy

        self._frame_policy = policy  # a name stays a name (callers key caches and records by it)
        policy = get_policy(policy)
        if isinstance(policy, Salmonn2PlusPolicy) and isinstance(self.processor, PlusProcessor):
            self.processor.video = dataclasses.replace(self.processor.video, max_frame_pixels=policy.max_pixels,
                                                       max_frames=policy.max_frames, min_frame_pixels=policy.min_pixels)

    def input_options(self) -> dict:
        """The release-specific input options in force, for the captions file's generation record."""
        if self.variant == PLUS:
            return {"positions": self.caption_positions}
        return {"interleave": self.processor.interleave}

    def adapter_module_name(self, official: str) -> str:
        """avcap's name of a module or parameter named as in the release (for PEFT adapters)."""
        from avcap.models.salmonn2.checkpoints import to_avcap

        return to_avcap(official, self.variant) or official

    def set_input_options(self, interleave: str | None = None, positions: str | None = None) -> None:
        """``interleave`` "release"/"paper" (first release); ``positions`` "training"/"release-inference"
        (2+ generation). An option that does not apply to this release is a ModelError."""
        if interleave is not None:
            if self.variant == PLUS:
                raise ModelError(f"{self.name}: --interleave applies to first-release video-SALMONN 2 checkpoints; "
                                 "2+ interleaves audio by time (timed groups)")
            if interleave not in INTERLEAVE_MODES:
                raise ModelError(f"interleave {interleave!r}: choose {' or '.join(INTERLEAVE_MODES)}")
            self.processor.interleave = interleave
        if positions is not None:
            if self.variant != PLUS:
                raise ModelError(f"{self.name}: --positions applies to video-SALMONN 2+ (M-RoPE) checkpoints; "
                                 "the first release uses 1D positions")
            if positions not in POSITION_MODES:
                raise ModelError(f"positions {positions!r}: choose {' or '.join(POSITION_MODES)}")
            self.caption_positions = positions

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return self.model.parameter_groups()

    def audio_aligner_parameters(self) -> list[torch.nn.Parameter]:
        return self.model.parameter_groups()["audio_aligner"]

    def llm_parameters(self) -> list[torch.nn.Parameter]:
        return self.model.parameter_groups()["llm"]

    def save_pretrained(self, out_dir: str | Path, shards: int = 1) -> Path:
        """Write the current weights in the release's own layout (loadable by ``load`` and by its code).

        Non-weight files (preprocessor and chat templates) are copied from the source folder.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if self.source is not None:
            for path in self.source.iterdir():
                if path.is_file() and path.suffix in (".json", ".jinja", ".txt") and "index" not in path.name:
                    shutil.copy2(path, out / path.name)
        (out / "config.json").write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        self.tokenizer.save_pretrained(str(out))
        save_official(self.model, out, self.variant, shards=shards)
        return out

    def caption(self, clips: list[Clip], prompt: str, generation: GenerationConfig, prefix: str | None = None) -> list[str]:
        """``len(clips) * num_samples`` captions, clip-major, from one batched ``generate`` call.

        ``prefix`` (a row's ``prefix``): the answer is forced to start with it, as the first
        release's test mode does; the returned caption is the prefix followed by the continuation.
        """
        if not clips:
            return []
        batch = self.processor(clips, [prompt] * len(clips), positions=self.caption_positions,
                               prefixes=[prefix] * len(clips) if prefix else None).to(self.device, self.dtype)
        self._last_audit = self._audit(clips, batch)
        max_new = generation.max_new_tokens or self.default_max_new_tokens
        kwargs = dict(max_new_tokens=max_new, num_return_sequences=generation.num_samples,
                      repetition_penalty=generation.repetition_penalty, eos_token_id=self.eos_token_ids,
                      pad_token_id=self.processor.pad_token_id)
        if generation.do_sample:
            if generation.seed is not None:
                torch.manual_seed(generation.seed)
            kwargs.update(do_sample=True, temperature=generation.temperature, top_p=generation.top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        was_training = self.model.training
        self.model.eval()
        try:
            new_tokens = self.model.generate(batch, **kwargs)
        finally:
            self.model.train(was_training)
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        if prefix:
            return [(prefix + text).strip() for text in texts]
        return [text.strip() for text in texts]

    hears_audio = True

    def input_audit(self) -> list[dict]:
        """Token counts and audio seconds of the clips of the last ``caption`` call."""
        return list(getattr(self, "_last_audit", []))

    def _audit(self, clips: list[Clip], batch) -> list[dict]:
        # Both releases feed the whole track in 30 s Whisper chunks (no cut); audio tokens are
        # chunks x tokens_per_chunk, visual tokens the frame / image placeholders in the row.
        from avcap.models.salmonn2.processing import VISUAL_SLOT

        per_chunk = self.processor.aligner_cfg.tokens_per_chunk
        if self.variant == PLUS:
            spec = self.processor.spec
            visual_ids = [spec.video_token_id, spec.image_token_id]
        else:
            visual_ids = [VISUAL_SLOT]
        ids = batch.input_ids.cpu()
        audits = []
        for b, clip in enumerate(clips):
            chunks = batch.chunks_per_clip[b]
            visual = int(sum(int((ids[b] == v).sum()) for v in visual_ids))
            seconds = np.shape(clip.audio)[0] / clip.sample_rate_hz if chunks else 0.0
            audits.append({"audio_tokens": chunks * per_chunk, "visual_tokens": visual,
                           "audio_seconds_fed": seconds, "audio_cut": False})
        return audits

    def sequence_logps(self, batch: list[TrainExample], return_counts: bool = False, per_token: bool = False):
        """Summed log-probability of each answer (+ ``<|im_end|>\\n``) given clip and prompt, [B].

        With ``return_counts`` also the number of scored answer tokens per example, [B] (for
        per-token means: SFT/align cross-entropy, gDPO's ground-truth term); with ``per_token``
        ``(token_logps [B, T], mask [B, T])`` instead (GRPO). Differentiable; only the last positions (where the left-padded answers sit) go through
        the LM head, so a long video costs no vocabulary-sized logits.
        """
        if not batch:
            raise ModelError("sequence_logps: empty batch")
        inputs = self.processor([ex.clip for ex in batch], [ex.prompt for ex in batch],
                                [ex.answer for ex in batch]).to(self.device, self.dtype)
        labels = inputs.labels
        answer_len = int((labels != IGNORE_INDEX).sum(dim=1).max())
        keep = answer_len + 1
        logits = self.model(inputs, logits_to_keep=keep)  # [B, keep, V]
        targets = labels[:, -keep:][:, 1:]
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        mask = targets != IGNORE_INDEX
        token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        if per_token:  # GRPO: (token log-probs [B, T], mask [B, T]); padding positions hold 0
            return torch.where(mask, token_logp, 0.0), mask
        logps = (token_logp * mask).sum(dim=1)
        return (logps, mask.sum(dim=1)) if return_counts else logps


def load(name_or_path: str, device: str = "cpu", dtype=None, attn_implementation: str = "sdpa") -> Salmonn2Captioner:
    """Load an official video-SALMONN 2 (first release) or 2+ checkpoint, unedited."""
    folder = resolve_checkpoint(str(name_or_path))
    config = _read_json(folder / "config.json")
    variant = detect_variant(config)
    if variant is None:
        raise ModelError(f"{folder}: config.json is not a video-SALMONN 2 / 2+ checkpoint")
    files = CheckpointFiles(folder)
    shapes = files.shapes()
    spec = plus_spec(config) if variant == PLUS else v1_spec(config, shapes)
    tokenizer = load_checkpoint_tokenizer(folder)
    device = resolve_device(device)
    dtype = resolve_dtype(device, dtype)
    from avcap.models.salmonn2.modeling_plus import SalmonnPlusModel
    from avcap.models.salmonn2.modeling_v1 import SalmonnV1Model

    cls = SalmonnPlusModel if variant == PLUS else SalmonnV1Model
    with no_init_weights(), default_dtype(dtype), torch.device(device):
        model = cls(spec, attn_implementation)
    load_official(model, files, variant, shapes)
    model.eval()
    if variant == PLUS:
        pre = folder / "preprocessor_config.json"
        settings = _read_json(pre) if pre.is_file() else {}
        video = PlusVideoSettings(**{k: settings[k] for k in ("patch_size", "temporal_patch_size", "merge_size",
                                                                "image_mean", "image_std") if k in settings})
        processor = PlusProcessor(tokenizer, spec, video)
    else:
        processor = V1Processor(tokenizer, spec)
    captioner = Salmonn2Captioner(str(name_or_path), model, processor, tokenizer, config, source=folder)
    apply_settings(captioner, read_settings(folder))
    return captioner


def apply_settings(captioner: Salmonn2Captioner, settings: dict) -> None:
    """avcap's own per-checkpoint settings (``avcap.json``; official checkpoints have none).

    ``frame_policy``: overrides of a policy, named by ``"policy"`` (default "salmonn2", the one
    avcap used for every checkpoint before the 2+ policy existed, so older files keep their
    meaning); ``positions``, ``interleave``: the input options; ``prompt``, ``max_new_tokens``: the
    caption defaults. ``save_pretrained`` copies the file, so models trained from such a
    checkpoint (e.g. the nano model) keep sampling and captioning the same way.
    """
    overrides = dict(settings.get("frame_policy") or {})
    if overrides:
        from avcap.media.policies import get_policy

        captioner.frame_policy = get_policy(overrides.pop("policy", "salmonn2"), **overrides)
    captioner.set_input_options(interleave=settings.get("interleave"), positions=settings.get("positions"))
    if settings.get("prompt"):
        captioner.default_prompt = str(settings["prompt"])
    if settings.get("max_new_tokens"):
        captioner.default_max_new_tokens = int(settings["max_new_tokens"])
