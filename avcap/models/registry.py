"""``load_captioner``: one entry point for every captioner family.

A name is a miniature (``tiny:<name>``, built offline and cached), the shipped nano captioner
(``builtin:nano``, trained by ``scripts/train_nano.sh``), a local checkpoint folder, or a
model-hub id. With ``backend="auto"`` the checkpoint's ``config.json`` decides the family:
each family module's ``detect(config)`` is asked in order, video-SALMONN 2 first because a
video-SALMONN 2+ config is a Qwen2.5-VL config plus its audio fields. Family modules are
imported only when asked, so a missing optional family never breaks the others.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from avcap.errors import ModelError
from avcap.models.base import Captioner

# The default captioner of ``avcap caption``: video-SALMONN 2+ 7B, the full checkpoint the
# release's inference.py loads (REFERENCE.md). ``..._3B_full`` and ``..._72B_full`` are the other
# sizes; ``tsinghua-ee/video-SALMONN-2_plus_{3B,7B,72B}`` are LoRA adapters (adapters.py).
DEFAULT_MODEL = "tsinghua-ee/video-SALMONN2_plus_7B_full"

FAMILY_MODULES = {
    "salmonn2": "avcap.models.salmonn2",
    "omni": "avcap.models.omni",
    "vl": "avcap.models.vl",
    "videollama2": "avcap.models.videollama2",
}
DETECT_ORDER = ("salmonn2", "omni", "vl", "videollama2")
BACKENDS = ("auto", *FAMILY_MODULES)
SUPPORTED = "video-SALMONN 2 (salmonn2), Qwen2.5-Omni/Qwen3-Omni incl. AVoCaDO (omni), Qwen2/2.5/3-VL incl. Tarsier2 (vl), VideoLLaMA 2/2.1/2.1-AV (videollama2)"

# The nano video-SALMONN 2 trained on the synthetic world, shipped inside the package.
NANO_MODEL = "builtin:nano"
BUILTIN_MODELS = {"builtin:nano": Path(__file__).resolve().parent.parent / "assets" / "nano"}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _family(name: str):
    try:
        module = importlib.import_module(FAMILY_MODULES[name])
    except ImportError as err:
        raise ModelError(f"backend {name}: its module cannot be imported ({err})") from None
    if not callable(getattr(module, "load", None)):
        raise ModelError(f"backend {name}: {FAMILY_MODULES[name]} provides no load()")
    return module


def detect_family(config: dict, where: str = "config.json") -> str:
    """The family whose ``detect`` claims ``config``; a ModelError naming what was found otherwise."""
    for name in DETECT_ORDER:
        try:
            module = importlib.import_module(FAMILY_MODULES[name])
        except ImportError:
            continue  # a family still missing from this install cannot claim anything
        detect = getattr(module, "detect", None)
        if detect is not None and detect(config):
            return name
    found = f"model_type {config.get('model_type')!r}, architectures {config.get('architectures')}"
    raise ModelError(f"{where}: unsupported checkpoint ({found}); avcap captions with {SUPPORTED}")


def resolve_checkpoint(name_or_path: str | Path, need_config: bool = True) -> Path:
    """A local folder holding the checkpoint: builds ``tiny:*``, downloads hub ids (cached)."""
    name = str(name_or_path)
    if name.startswith("tiny:"):
        from avcap.models.tiny import tiny_path

        return tiny_path(name)
    if name.startswith("builtin:"):
        if name not in BUILTIN_MODELS:
            raise ModelError(f"{name}: no such built-in model (built in: {', '.join(BUILTIN_MODELS)})")
        if not (BUILTIN_MODELS[name] / "config.json").is_file():
            raise ModelError(f"{name}: its files are missing from {BUILTIN_MODELS[name]} "
                             "(reinstall avcap, or rebuild them with scripts/train_nano.sh)")
        return BUILTIN_MODELS[name]
    path = Path(name).expanduser()
    if path.exists():
        if need_config and not (path / "config.json").is_file():
            raise ModelError(f"{path}: not a checkpoint folder (no config.json)")
        return path
    if not _HUB_ID.match(name):
        raise ModelError(f"{name}: no such folder, and not a tiny:<name> or a model-hub id (owner/name)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelError(f"{name}: downloading from the model hub needs huggingface_hub") from None
    try:
        return Path(snapshot_download(repo_id=name))
    except Exception as err:  # network, auth, missing repo: one line for the user
        raise ModelError(f"{name}: cannot download from the model hub ({type(err).__name__}: {err})") from None


def hub_config(repo_id: str) -> dict:
    """Only the ``config.json`` of a hub repo, to detect its family before a large download."""
    import json

    from huggingface_hub import hf_hub_download

    try:
        return json.loads(Path(hf_hub_download(repo_id=repo_id, filename="config.json")).read_text(encoding="utf-8"))
    except Exception as err:
        raise ModelError(f"{repo_id}: cannot read config.json from the model hub ({type(err).__name__}: {err})") from None


def _hub_adapter(repo_id: str) -> Path | None:
    """The downloaded repo when it is a PEFT adapter (it holds ``adapter_config.json``), else None."""
    from huggingface_hub import hf_hub_download

    try:
        found = Path(hf_hub_download(repo_id=repo_id, filename="adapter_config.json"))
    except Exception:  # noqa: BLE001 - absent (a full checkpoint) or unreachable: config.json decides
        return None
    return resolve_checkpoint(repo_id, need_config=False) if found.is_file() else None


def load_captioner(name_or_path: str | Path = DEFAULT_MODEL, backend: str = "auto", device: str = "cpu",
                   dtype=None, adapter: str = "merge", base_model: str | None = None) -> Captioner:
    """Load a captioner. ``device="auto"`` picks CUDA when present; ``dtype=None`` means bf16 on
    CUDA and float32 on CPU. ``backend`` is ``auto`` (read config.json) or a family name.

    A PEFT adapter (a folder or hub repo with ``adapter_config.json``) loads its base
    (``base_model`` if given, else the adapter's ``base_model_name_or_path``) and the adapter on
    it: merged (``adapter="merge"``, the default, as the release runs it) or kept as LoRA layers
    (``"keep"``); see :mod:`avcap.models.adapters`.
    """
    from avcap.models.adapters import adapter_base, attach_adapter, is_adapter_folder
    from avcap.models.hf_common import read_json, resolve_device

    if backend not in BACKENDS:
        raise ModelError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    name = str(name_or_path)
    local = Path(name).expanduser()
    is_hub = not name.startswith(("tiny:", "builtin:")) and not local.exists() and bool(_HUB_ID.match(name))
    adapter_folder = local if local.is_dir() and is_adapter_folder(local) else _hub_adapter(name) if is_hub else None
    if adapter_folder is not None:
        base = adapter_base(adapter_folder, base_model)
        if base == name or is_adapter_folder(Path(base).expanduser()):
            raise ModelError(f"{name}: the adapter's base {base!r} is itself an adapter; give a full checkpoint "
                             "with --base-model")
        try:
            captioner = load_captioner(base, backend=backend, device=device, dtype=dtype)
        except ModelError as err:
            raise ModelError(f"{name}: cannot load the adapter's base model {base!r} ({err}); "
                             "give the base with --base-model") from None
        attach_adapter(captioner, adapter_folder, mode=adapter)
        captioner.name = name
        return captioner
    if base_model is not None:
        raise ModelError(f"{name}: --base-model applies to adapter checkpoints (adapter_config.json) only")
    if backend == "auto" and is_hub:
        family = detect_family(hub_config(name), where=f"{name}/config.json")
    else:
        family = backend
    path = resolve_checkpoint(name)
    if family == "auto":
        family = detect_family(read_json(path / "config.json"), where=str(path / "config.json"))
    module = _family(family)
    captioner = module.load(path, device=resolve_device(device), dtype=dtype)
    try:
        captioner.name = name  # report what the user asked for, not a cache path
    except AttributeError:
        pass
    return captioner
