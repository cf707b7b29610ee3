"""Official checkpoint layouts of both releases <-> avcap's modules, read and written without edits.

Key lists, as read in bytedance/video-SALMONN-2 (module attribute names of the released classes):

2+ (``video_SALMONN2_plus`` in ``qwenvl/model/modeling_qwen2_5_vl.py``, ``modeling_whisper.py``)::

    visual.*                       -> llm.model.visual.*          (Qwen2.5-VL vision tower + merger)
    model.*                        -> llm.model.language_model.*  (Qwen2.5 decoder)
    lm_head.*                      -> llm.lm_head.*               (absent when embeddings are tied)
    audio.qformer.bert.*           -> audio.qformer.*             (BERT Q-Former, renamed below)
    audio.q_tokens                 -> audio.query_tokens
    audio.audio_proj.*             -> audio.proj.*
    audio.* (conv1, conv2, embed_positions, layers.N, layer_norm) -> audio.encoder.* (Whisper)

first release (``VideoSALMONN2ForCausalLM`` in ``llava/model/language_model/video_salmonn_2.py``)::

    model.vision_tower.vision_tower.vision_model.* -> vision.*   (SigLIP, last layer and head removed)
    model.mm_projector.{0,2}.*        -> mm_projector.{0,2}.*
    model.image_newline               -> image_newline
    model.* / lm_head.*               -> llm.model.* / llm.lm_head.*   (Qwen2)
    speech_encoder.*                  -> audio.encoder.*  (Whisper-large-v3 encoder)
    ln_speech.*                       -> audio.ln_speech.*
    speech_Qformer.bert.*             -> audio.qformer.*
    speech_query_tokens               -> audio.query_tokens
    speech_llama_proj.*               -> audio.proj.*
    final_linear.{0,2}.*              -> audio.final_linear.{0,2}.*

Inside the Q-Former the release's BERT names map to transformers' ``Blip2QFormerModel``:
``embeddings.LayerNorm`` -> ``layernorm`` and ``(cross)attention.self`` -> ``(cross)attention.attention``
(``output``, ``intermediate_query``, ``output_query`` keep their names). Leading ``module.``
prefixes (DeepSpeed/DDP saves, which the release's ``.bin`` loader also strips) are removed, and
the buffers ``*.embeddings.position_ids`` / ``*.rotary_emb.inv_freq`` are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch

from avcap.errors import ModelError

_RULES = {
    "plus": [
        ("model.visual.", "llm.model.visual."),  # checkpoints saved by newer transformers
        ("model.language_model.", "llm.model.language_model."),
        ("visual.", "llm.model.visual."),
        ("model.", "llm.model.language_model."),
        ("lm_head.", "llm.lm_head."),
        ("audio.qformer.bert.", "audio.qformer."),
        ("audio.q_tokens", "audio.query_tokens"),
        ("audio.audio_proj.", "audio.proj."),
        ("audio.", "audio.encoder."),
    ],
    "v1": [
        ("model.vision_tower.vision_tower.vision_model.", "vision."),
        ("model.mm_projector.", "mm_projector."),
        ("model.image_newline", "image_newline"),
        ("model.", "llm.model."),
        ("lm_head.", "llm.lm_head."),
        ("speech_encoder.", "audio.encoder."),
        ("ln_speech.", "audio.ln_speech."),
        ("speech_Qformer.bert.", "audio.qformer."),
        ("speech_query_tokens", "audio.query_tokens"),
        ("speech_llama_proj.", "audio.proj."),
        ("final_linear.", "audio.final_linear."),
    ],
}
# avcap -> official: the same pairs, most specific avcap prefix first ("model." is only for reading).
_WRITE_RULES = {
    "plus": [r for r in _RULES["plus"] if not r[0].startswith(("model.visual.", "model.language_model."))],
    "v1": _RULES["v1"],
}
_IGNORED_SUFFIXES = ("embeddings.position_ids", "rotary_emb.inv_freq")
_QFORMER = "audio.qformer."


def strip_module(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module."):]
    return key


def to_avcap(key: str, variant: str) -> str | None:
    """avcap parameter name of an official key; None when the key is a known ignorable buffer."""
    key = strip_module(key)
    if key.endswith(_IGNORED_SUFFIXES):
        return None
    for official, ours in _RULES[variant]:
        if key == official or key.startswith(official):
            mapped = ours + key[len(official):]
            if mapped.startswith(_QFORMER):
                rest = mapped[len(_QFORMER):].replace("embeddings.LayerNorm.", "layernorm.")
                mapped = _QFORMER + rest.replace("attention.self.", "attention.attention.")
            return mapped
    return key  # unknown: reported as unexpected by the caller


def to_official(key: str, variant: str) -> str:
    """Official name of an avcap parameter (inverse of :func:`to_avcap`)."""
    rules = sorted(_WRITE_RULES[variant], key=lambda r: -len(r[1]))
    for official, ours in rules:
        if key == ours or key.startswith(ours):
            rest = key[len(ours):]
            if ours == _QFORMER:
                rest = rest.replace("layernorm.", "embeddings.LayerNorm.").replace("attention.attention.", "attention.self.")
            return official + rest
    raise ModelError(f"no official name for parameter {key}")


class CheckpointFiles:
    """The weight files of a checkpoint folder: sharded or single safetensors, or PyTorch .bin."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.files = self._find()

    def _find(self) -> list[Path]:
        for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
            index = self.folder / index_name
            if index.is_file():
                try:
                    weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                except (OSError, ValueError, KeyError) as err:
                    raise ModelError(f"{index}: unreadable shard index ({err})") from None
                files = [self.folder / name for name in dict.fromkeys(weight_map.values())]
                absent = [f.name for f in files if not f.is_file()]
                if absent:
                    raise ModelError(f"{index}: shard files missing: {', '.join(absent)}")
                return files
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (self.folder / name).is_file():
                return [self.folder / name]
        raise ModelError(f"{self.folder}: no model.safetensors(.index.json) or pytorch_model.bin(.index.json)")

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Official key (``module.`` stripped) -> shape, without reading the tensors of safetensors files."""
        from safetensors import safe_open

        out: dict[str, tuple[int, ...]] = {}
        for path in self.files:
            if path.suffix == ".safetensors":
                with safe_open(str(path), framework="pt") as f:
                    for key in f.keys():
                        out[strip_module(key)] = tuple(f.get_slice(key).get_shape())
            else:
                for key, value in self._load_bin(path).items():
                    out[strip_module(key)] = tuple(value.shape)
        return out

    def tensors(self) -> Iterator[tuple[str, torch.Tensor]]:
        """(official key, tensor) pairs, one file at a time."""
        from safetensors.torch import load_file

        for path in self.files:
            state = load_file(str(path)) if path.suffix == ".safetensors" else self._load_bin(path)
            for key, value in state.items():
                yield strip_module(key), value
            del state

    @staticmethod
    def _load_bin(path: Path) -> dict:
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
            raise ModelError(f"{path}: cannot read weights ({type(err).__name__}: {err})") from None


def _listing(title: str, keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit]) + (f", ... (+{len(keys) - limit} more)" if len(keys) > limit else "")
    return f"{len(keys)} {title} [{shown}]"


def check_keys(model: torch.nn.Module, shapes: dict[str, tuple], variant: str, folder) -> dict[str, str]:
    """Map official keys to the model's; one ModelError listing every missing/unexpected/mis-shaped key."""
    expected = dict(model.state_dict(keep_vars=True))
    tied = {"llm.lm_head.weight"} if getattr(model.spec, "tie_word_embeddings", False) else set()
    mapping, unexpected, mismatched, seen = {}, [], [], set(tied)
    for key, shape in shapes.items():
        ours = to_avcap(key, variant)
        if ours is None:
            continue
        if ours not in expected:
            unexpected.append(key)
            continue
        seen.add(ours)
        if tuple(expected[ours].shape) != tuple(shape):
            mismatched.append(f"{key} {tuple(shape)} vs {tuple(expected[ours].shape)}")
        else:
            mapping[key] = ours
    missing = [to_official(k, variant) for k in expected if k not in seen]
    if missing or unexpected or mismatched:
        parts = [_listing(t, sorted(k)) for t, k in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)) if k]
        raise ModelError(f"{folder}: not a video-SALMONN 2{'+' if variant == 'plus' else ''} checkpoint "
                         f"of this architecture: " + "; ".join(parts))
    return mapping


@torch.no_grad()
def load_official(model: torch.nn.Module, files: CheckpointFiles, variant: str, shapes=None) -> None:
    """Copy an official checkpoint into ``model`` (dtype converted), after checking every key."""
    mapping = check_keys(model, shapes if shapes is not None else files.shapes(), variant, files.folder)
    params = dict(model.state_dict(keep_vars=True))
    for key, tensor in files.tensors():
        if key in mapping:
            params[mapping[key]].data.copy_(tensor)
    if getattr(model.spec, "tie_word_embeddings", False):
        model.llm.tie_weights()


def official_state_dict(model: torch.nn.Module, variant: str) -> dict[str, torch.Tensor]:
    """The model's weights under the official names (tied ``lm_head`` left out, as the release does)."""
    tied = getattr(model.spec, "tie_word_embeddings", False)
    out = {}
    for key, value in model.state_dict().items():
        if tied and key == "llm.lm_head.weight":
            continue
        out[to_official(key, variant)] = value.detach().contiguous()
    return out


def save_official(model: torch.nn.Module, folder: str | Path, variant: str, shards: int = 1) -> None:
    """Write ``model.safetensors`` (or ``shards`` files + ``model.safetensors.index.json``)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = official_state_dict(model, variant)
    keys = sorted(state)
    if shards <= 1:
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        return
    per = -(-len(keys) // shards)
    weight_map, total = {}, 0
    for i in range(shards):
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: state[k] for k in keys[i * per:(i + 1) * per]}
        save_file(part, str(folder / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, name))
        total += sum(t.numel() * t.element_size() for t in part.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
