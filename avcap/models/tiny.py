"""Random-init miniatures of every captioner family, saved in the official checkpoint layouts.

``build_tiny("tiny:omni", out_dir)`` writes a checkpoint folder (config.json, safetensors,
tokenizer, processor configs, chat template) made from a shrunken config of the real
architecture: same transformers classes, same loading and forward code. Tests, benchmarks and
``--model tiny:<name>`` use them offline; nothing is downloaded. The tokenizer is a byte-level
BPE trained in-process on a few sentences, with the family's special tokens added.

Built folders are cached under ``$AVCAP_TINY_DIR`` (default ``~/.cache/avcap/tiny``), keyed by
the name and a hash of the builder version, so a test session builds each miniature once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from avcap.errors import ModelError

# Bump when a builder changes what it writes, so cached folders are rebuilt.
TINY_BUILDER_VERSION = "2"

# name -> (family module, variant passed to its build_tiny)
TINY_MODELS: dict[str, tuple[str, str]] = {
    "salmonn2": ("avcap.models.salmonn2", "plus"),
    "salmonn2-v1": ("avcap.models.salmonn2", "v1"),
    "omni": ("avcap.models.omni", "qwen2.5-omni"),
    "qwen2.5-omni": ("avcap.models.omni", "qwen2.5-omni"),
    "qwen3-omni": ("avcap.models.omni", "qwen3-omni"),
    "qwen2-vl": ("avcap.models.vl", "qwen2-vl"),
    "qwen2.5-vl": ("avcap.models.vl", "qwen2.5-vl"),
    "qwen3-vl": ("avcap.models.vl", "qwen3-vl"),
    "tarsier2": ("avcap.models.vl", "tarsier2"),
    "videollama2": ("avcap.models.videollama2", "videollama2"),
    "videollama2-av": ("avcap.models.videollama2", "videollama2-av"),
}

_CORPUS = [
    "A red square moves from the left edge of the frame to the right edge.",
    "A steady tone plays in the first half, then bursts of noise follow.",
    "The camera stays still while a man speaks to a woman in a kitchen.",
    "Then the dog barks twice and runs out of the room as music starts.",
    "The video shows a city street at night with cars passing and rain falling.",
]


def _tiny_root() -> Path:
    env = os.environ.get("AVCAP_TINY_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "avcap" / "tiny"


def tiny_names() -> list[str]:
    return sorted(TINY_MODELS)


def _split_name(family_or_name: str) -> tuple[str, str, str]:
    name = family_or_name.removeprefix("tiny:")
    if name not in TINY_MODELS:
        raise ModelError(f"tiny:{name}: unknown miniature; choose one of {', '.join('tiny:' + n for n in tiny_names())}")
    module, variant = TINY_MODELS[name]
    return name, module, variant


def build_tiny(family_or_name: str, out_dir: str | Path) -> Path:
    """Build the miniature ``family_or_name`` (``"tiny:omni"`` or ``"omni"``) into ``out_dir``."""
    import importlib

    name, module_name, variant = _split_name(family_or_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelError(f"tiny:{name}: family module {module_name} is not available ({err})") from None
    return Path(module.build_tiny(out_dir, variant=variant))


def tiny_path(family_or_name: str) -> Path:
    """The cached folder of a miniature, building it on first use (atomic: build, then rename)."""
    import transformers

    name, _, variant = _split_name(family_or_name)
    key = hashlib.sha256(f"{name}|{variant}|{TINY_BUILDER_VERSION}|{transformers.__version__}".encode()).hexdigest()[:12]
    target = _tiny_root() / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build_tiny(name, tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: keep its copy
            if not (target / "config.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------------------------
# Shared pieces the family builders use.


def train_tokenizer(special_tokens: list[str], named_tokens: dict[str, str], vocab_size: int = 320):
    """A Qwen2 byte-level BPE tokenizer trained on a few sentences, plus the family's special tokens.

    ``named_tokens`` become attributes (``tokenizer.video_token`` ...) as in the official
    tokenizer configs; ``special_tokens`` are the chat-format tokens (``<|im_start|>`` ...).
    """
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS, trainer)
    state = json.loads(bpe.to_str())
    tokenizer = Qwen2Tokenizer(
        vocab=state["model"]["vocab"],
        merges=[tuple(m) for m in state["model"]["merges"]],
        extra_special_tokens=named_tokens,
    )
    tokenizer.add_tokens([AddedToken(t, special=True) for t in special_tokens], special_tokens=True)
    tokenizer.padding_side = "left"
    return tokenizer


def chat_template(image: str, video: str, audio: str | None, default_system: str | None) -> str:
    """A Qwen-style ChatML template (the shape of the official Qwen2-VL / Qwen2.5-Omni templates)."""
    system = (
        "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
        + default_system
        + "<|im_end|>\n{% endif %}"
        if default_system
        else ""
    )
    audio_branch = (
        "{% elif content['type'] == 'audio' or 'audio' in content %}" + audio if audio else ""
    )
    return (
        "{% for message in messages %}"
        + system
        + "<|im_start|>{{ message['role'] }}\n"
        "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
        "{% else %}{% for content in message['content'] %}"
        "{% if content['type'] == 'image' or 'image' in content %}" + image
        + audio_branch
        + "{% elif content['type'] == 'video' or 'video' in content %}" + video
        + "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


def token_ids(tokenizer, tokens: dict[str, str]) -> dict[str, int]:
    return {key: tokenizer.convert_tokens_to_ids(tok) for key, tok in tokens.items()}


def seeded_init(model_cls, config, seed: int = 0):
    """Instantiate ``model_cls(config)`` with a fixed seed, leaving the global RNG untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_cls(config).eval()


def write_settings(out_dir: str | Path, settings: dict) -> None:
    """avcap's own per-checkpoint settings (pixel budget, frame policy) saved beside the weights."""
    Path(out_dir, "avcap.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
