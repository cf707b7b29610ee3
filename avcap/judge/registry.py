"""Judge backends by name: ``openai``, ``hf``, ``scripted``, ``symbolic``, and any registered later.

``symbolic`` judges captions of avcap's synthetic world exactly. A name of the form
``package.module:factory`` is imported, so a user can plug in a backend without editing avcap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from avcap.errors import ConfigError
from avcap.judge.types import ChatBackend


@dataclass
class BackendOptions:
    """Everything a backend factory may need; each backend reads the fields it uses."""

    model: str | None = None  # API model name, or a local model folder for ``hf``
    base_url: str | None = None  # OpenAI-compatible server; None means api.openai.com
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never from a flag
    timeout_s: float = 120.0  # per HTTP request
    device: str = "cpu"  # hf only
    dtype: str = "auto"  # hf only
    max_new_tokens: int = 1024  # hf only: the answer length when the caller sets none
    requests_per_minute: float | None = None  # openai only: pace calls below the server's quota
    tokens_per_minute: float | None = None  # openai only: estimated prompt + answer tokens per minute

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0")


BackendFactory = Callable[[BackendOptions], ChatBackend]

_BUILTIN = {
    "openai": "avcap.judge.backends.openai:from_options",
    "hf": "avcap.judge.backends.hf:from_options",
    "scripted": "avcap.judge.backends.scripted:from_options",
    "symbolic": "avcap.judge.backends.symbolic:from_options",
}
_REGISTERED: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make ``--judge NAME`` create a backend with ``factory(options)``."""
    if not name or ":" in name:
        raise ValueError(f"invalid backend name {name!r}")
    if (name in _BUILTIN or name in _REGISTERED) and not replace:
        raise ValueError(f"judge backend {name!r} already exists (pass replace=True)")
    _REGISTERED[name] = factory


def available_backends() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def _load(spec: str) -> BackendFactory:
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"judge backend {spec!r} cannot be imported: {err}") from None


def create_backend(name: str, options: BackendOptions | None = None) -> ChatBackend:
    options = options or BackendOptions()
    if name in _REGISTERED:
        factory = _REGISTERED[name]
    elif name in _BUILTIN:
        factory = _load(_BUILTIN[name])
    elif ":" in name:
        factory = _load(name)
    else:
        raise ConfigError(f"unknown judge backend {name!r}; choose one of: {', '.join(available_backends())}")
    return factory(options)
