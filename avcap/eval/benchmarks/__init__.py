"""``avcap bench``: the field's caption benchmarks, each scored by its own official protocol.

A benchmark is a declarative ``BenchmarkSpec`` (``defs/``); ``formats`` reads its published
files, ``protocols`` score it, ``runner`` runs judge runs and writes report.json with the
spread over runs, bootstrap intervals over videos and paired comparisons.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from avcap.errors import ConfigError
from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults, Overrides


@lru_cache(maxsize=1)
def all_benchmarks() -> dict[str, BenchmarkSpec]:
    """Every definition in ``defs/``, by name (read once, on first use)."""
    from avcap.eval.benchmarks import defs

    specs = {}
    for info in sorted(pkgutil.iter_modules(defs.__path__), key=lambda m: m.name):
        spec = importlib.import_module(f"{defs.__name__}.{info.name}").SPEC
        if spec.name in specs:
            raise ConfigError(f"two benchmark definitions are named {spec.name!r}")
        specs[spec.name] = spec
    return specs


def get_benchmark(name: str) -> BenchmarkSpec:
    specs = all_benchmarks()
    if name not in specs:
        raise ConfigError(f"unknown benchmark {name!r}; `avcap bench list` shows: {', '.join(specs)}")
    return specs[name]


__all__ = ["BenchmarkSpec", "JudgeDefaults", "Overrides", "all_benchmarks", "get_benchmark"]
