"""VideoLLaMA 2 checkpoints: the release's parameter names <-> avcap's modules, the Captioner, miniatures.

Names, as read in DAMO-NLP-SG/VideoLLaMA2 (``Videollama2MetaModel`` on both branches: the
LLaVA-style ``model.`` holds the towers and projectors beside the decoder)::

    model.vision_tower.vision_tower.vision_model.*  -> vision.*           (CLIPVisionModel / SiglipVisionModel)
    model.mm_projector.{s1,sampler.0,s2,readout.N}.* -> connector.*       (STC connector, same inner names)
    model.audio_tower.*                             -> audio_encoder.*    (BEATs, same inner names; audio_visual)
    model.mm_projector_a.{0,2}.*                    -> audio_projector.*  (audio_visual)
    model.* (embed_tokens, layers.N, norm)          -> llm.model.*        (Mistral / Mixtral / Qwen2 / Llama)
    lm_head.*                                       -> llm.lm_head.*

Prefixes are tried most specific first. Ignored on reading: the buffers ``*.position_ids`` /
``*.rotary_emb.inv_freq`` and BEATs' copies of layer 0's shared bias table under layers 1..N-1.
The check is strict: one ModelError lists every missing, unexpected and mis-shaped key, except
that a checkpoint without any tower weights gets them from ``mm_vision_tower`` /
``mm_audio_tower`` (what the audio_visual branch's delayed tower loading does).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from avcap.errors import ModelError
from avcap.media.clip import Clip
from avcap.models.base import DEFAULT_PROMPT, GenerationConfig, TrainExample
from avcap.models.beats import load_beats_checkpoint, shared_bias_keys
from avcap.models.videollama2 import (
    FAMILY,
    IGNORE_INDEX,
    VISUAL_PROMPT,
    VideoLLaMA2Model,
    VideoLLaMA2Processor,
    VideoLLaMA2Spec,
    detect,
    spec_from_config,
)

_IGNORED_SUFFIXES = ("embeddings.position_ids", "rotary_emb.inv_freq")
_TOWER = "model.vision_tower.vision_tower."


def _prefixes(model: VideoLLaMA2Model) -> list[tuple[str, str]]:
    nested = "vision_model." if hasattr(model.vision, "vision_model") else ""  # transformers 4.x nests it
    return [(_TOWER + "vision_model.", "vision." + nested), (_TOWER, "vision."),
            ("model.mm_projector_a.", "audio_projector."), ("model.mm_projector.", "connector."),
            ("model.audio_tower.", "audio_encoder."), ("model.", "llm.model."), ("lm_head.", "llm.lm_head.")]


def to_avcap(key: str, prefixes: list[tuple[str, str]]) -> str | None:
    while key.startswith("module."):
        key = key[len("module."):]
    if key.endswith(_IGNORED_SUFFIXES) or key in shared_bias_keys({key: None}, "model.audio_tower."):
        return None
    for official, ours in prefixes:
        if key.startswith(official):
            return ours + key[len(official):]
    return key  # reported as unexpected


def to_official(key: str, prefixes: list[tuple[str, str]]) -> str:
    for official, ours in sorted(prefixes, key=lambda p: -len(p[1])):
        if key.startswith(ours) and official != _TOWER:
            return official + key[len(ours):]
    raise ModelError(f"no official name for parameter {key}")


def weight_files(folder: Path) -> list[Path]:
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            try:
                names = json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"].values()
            except (OSError, ValueError, KeyError) as err:
                raise ModelError(f"{folder / index}: unreadable shard index ({err})") from None
            files = [folder / n for n in dict.fromkeys(names)]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise ModelError(f"{folder / index}: shard files missing: {', '.join(missing)}")
            return files
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise ModelError(f"{folder}: no model.safetensors(.index.json) or pytorch_model.bin(.index.json)")


def read_tensors(files: list[Path]) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for path in files:
        try:
            part = (load_file(str(path)) if path.suffix == ".safetensors"
                    else torch.load(str(path), map_location="cpu", weights_only=True, mmap=True))
        except Exception as err:  # noqa: BLE001 - unreadable weights: one line
            raise ModelError(f"{path}: cannot read weights ({type(err).__name__}: {err})") from None
        state.update(part)
    return state


def _listing(title: str, keys: list[str], limit: int = 8) -> str:
    more = f", ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return f"{len(keys)} {title} [{', '.join(keys[:limit])}{more}]"


def _tower_weights(spec: VideoLLaMA2Spec, folder: Path, which: str) -> dict[str, torch.Tensor]:
    """The release's delayed tower loading: the vision tower from mm_vision_tower, BEATs from mm_audio_tower."""
    source = spec.vision_source if which == "vision" else spec.audio_source
    path = Path(str(source)).expanduser()
    path = folder / path if not path.is_absolute() and (folder / path).exists() else path
    if which == "audio":
        if not path.is_file():
            raise ModelError(f"{folder}: no BEATs weights in the checkpoint and mm_audio_tower {source!r} is no file")
        return {f"audio_encoder.{k}": v for k, v in load_beats_checkpoint(path).state_dict().items()}
    from avcap.models.videollama2 import _vision_classes

    try:
        tower = _vision_classes(spec.vision_kind)[1].from_pretrained(str(path) if path.exists() else str(source))
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: no vision tower weights in the checkpoint, and {source!r} does not load "
                         f"({type(err).__name__}: {err})") from None
    return {f"vision.{k}": v for k, v in tower.state_dict().items()}


@torch.no_grad()
def load_official(model: VideoLLaMA2Model, folder: Path) -> None:
    """Copy a checkpoint folder's weights into ``model`` after checking every key against it."""
    prefixes = _prefixes(model)
    state = {}
    for key, value in read_tensors(weight_files(folder)).items():
        ours = to_avcap(key, prefixes)
        if ours is not None:
            state[ours] = (key, value)
    expected = model.state_dict(keep_vars=True)
    for part, present in (("vision", "vision."), ("audio", "audio_encoder.")):
        if any(k.startswith(present) for k in expected) and not any(k.startswith(present) for k in state):
            state.update({k: (k, v) for k, v in _tower_weights(model.spec, folder, part).items()})
    tied = bool(model.llm.config.tie_word_embeddings)
    missing = [to_official(k, prefixes) for k in expected if k not in state and not (tied and k == "llm.lm_head.weight")]
    unexpected = sorted(official for ours, (official, _) in state.items() if ours not in expected)
    mismatched = sorted(f"{official} {tuple(v.shape)} vs {tuple(expected[ours].shape)}"
                        for ours, (official, v) in state.items()
                        if ours in expected and tuple(v.shape) != tuple(expected[ours].shape))
    if missing or unexpected or mismatched:
        parts = [_listing(t, sorted(k)) for t, k in (("missing keys", missing), ("unexpected keys", unexpected),
                                                     ("shape mismatches", mismatched)) if k]
        raise ModelError(f"{folder}: weights do not fit this VideoLLaMA 2 architecture: " + "; ".join(parts))
    for ours, (_, value) in state.items():
        expected[ours].data.copy_(value)
    if tied:
        model.llm.tie_weights()


def official_state_dict(model: VideoLLaMA2Model) -> dict[str, torch.Tensor]:
    prefixes = _prefixes(model)
    tied = bool(model.llm.config.tie_word_embeddings)
    return {to_official(k, prefixes): v.detach().contiguous() for k, v in model.state_dict().items()
            if not (tied and k == "llm.lm_head.weight")}


def save_official(model: VideoLLaMA2Model, folder: Path, shards: int = 1) -> None:
    from safetensors.torch import save_file

    state = official_state_dict(model)
    keys = sorted(state)
    if shards <= 1:
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    per, weight_map = -(-len(keys) // shards), {}
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: state[k] for k in keys[i * per:(i + 1) * per]}
        save_file(part, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, name))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2),
                                                         encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Captioner


class VideoLLaMA2Captioner:
    """VideoLLaMA 2 behind avcap's Captioner interface (``frame_policy``: 16/8 segment middles)."""

    family = FAMILY
    default_max_new_tokens = 2048  # mm_infer's max_new_tokens

    def __init__(self, name: str, model: VideoLLaMA2Model, tokenizer, config: dict, source: Path | None = None):
        from avcap.media.policies import get_policy

        self.name, self.model, self.tokenizer, self.config, self.source = name, model, tokenizer, config, source
        vocab = tokenizer.get_vocab()
        # Qwen2 chat turns end in <|im_end|>; Mistral's in </s> (the tokenizer's eos).
        end = "<|im_end|>" if "<|im_end|>" in vocab else tokenizer.eos_token
        if end is None or end not in vocab:
            raise ModelError(f"{name}: the tokenizer has no end-of-turn token (<|im_end|> or an eos token)")
        self.end_of_turn_id = int(tokenizer.convert_tokens_to_ids(end))
        stops = {self.end_of_turn_id, tokenizer.eos_token_id}
        self.eos_token_ids = sorted(i for i in stops if i is not None)
        self.processor = VideoLLaMA2Processor(tokenizer, model.spec, self.end_of_turn_id)
        self.frame_policy = get_policy("videollama2", num_frames=model.spec.num_frames,
                                       size=int(model.spec.vision["image_size"]))
        self.default_prompt = DEFAULT_PROMPT if model.spec.audio is not None else VISUAL_PROMPT

    @property
    def hears_audio(self) -> bool:
        """2.1-AV has an audio branch; 2 / 2.1 take frames only."""
        return self.model.spec.audio is not None

    def input_audit(self) -> list[dict]:
        """Token counts and audio seconds of the clips of the last ``caption`` call."""
        return list(getattr(self, "_last_audit", []))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return self.model.parameter_groups()

    def caption(self, clips: list[Clip], prompt: str, generation: GenerationConfig, prefix: str | None = None) -> list[str]:
        """Captions clip-major; with ``prefix`` each is the prefix followed by its continuation."""
        if not clips:
            return []
        batch = self.processor(clips, [prompt] * len(clips), prefix=prefix).to(self.device, self.dtype)
        self._last_audit = list(batch.audit or [])
        kwargs = dict(max_new_tokens=generation.max_new_tokens or self.default_max_new_tokens,
                      num_return_sequences=generation.num_samples,
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
        return [((prefix or "") + t).strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def sequence_logps(self, batch: list[TrainExample], return_counts: bool = False):
        """Summed log p(answer + end-of-turn | clip, prompt) per example, [B] (and token counts, [B])."""
        if not batch:
            raise ModelError("sequence_logps: empty batch")
        inputs = self.processor([ex.clip for ex in batch], [ex.prompt for ex in batch],
                                [ex.answer for ex in batch]).to(self.device, self.dtype)
        labels = inputs.labels
        keep = int((labels != IGNORE_INDEX).sum(dim=1).max()) + 1  # left padding: answers sit at the end
        logits = self.model(inputs, logits_to_keep=keep)
        targets = labels[:, -keep:][:, 1:]
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        mask = targets != IGNORE_INDEX
        token_logp = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        logps = (token_logp * mask).sum(dim=1)
        return (logps, mask.sum(dim=1)) if return_counts else logps

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Current weights in the release's layout, with config.json, tokenizer and the other small files."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if self.source is not None:
            for path in self.source.iterdir():
                if path.is_file() and path.suffix in (".json", ".jinja", ".txt", ".model") and "index" not in path.name:
                    shutil.copy2(path, out / path.name)
        (out / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        self.tokenizer.save_pretrained(str(out))
        save_official(self.model, out)
        return out


def load(name_or_path, device: str = "cpu", dtype=None, name: str | None = None) -> VideoLLaMA2Captioner:
    """Load an official (or avcap-written) VideoLLaMA 2 checkpoint: folder, hub id or ``tiny:*``."""
    from avcap.models.hf_common import (
        default_dtype,
        load_checkpoint_tokenizer,
        no_init_weights,
        read_json,
        resolve_device,
        resolve_dtype,
    )
    from avcap.models.registry import resolve_checkpoint

    folder = resolve_checkpoint(name_or_path)
    config = read_json(folder / "config.json")
    if not detect(config):
        raise ModelError(f"{folder}: not a VideoLLaMA 2 checkpoint (model_type {config.get('model_type')!r})")
    spec = spec_from_config(config, folder)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(device, dtype)
    tokenizer = load_checkpoint_tokenizer(folder, need_chat_template=True)
    with no_init_weights(), default_dtype(torch_dtype), torch.device(device):
        model = VideoLLaMA2Model(spec)
    load_official(model, folder)
    model.eval()
    return VideoLLaMA2Captioner(name or str(name_or_path), model, tokenizer, config, source=folder)
