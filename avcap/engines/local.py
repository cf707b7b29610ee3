"""The local engine: one captioner in this process, batches decoded one ahead on a thread
(:func:`avcap.models.captioning.run_captioning`, which the library's callers also use)."""

from __future__ import annotations

import dataclasses

from avcap.engines.spec import CaptionerSpec
from avcap.models.captioning import CaptionItem, CaptionRunConfig, RunSummary, run_captioning


def run_local(spec: CaptionerSpec, items: list[CaptionItem], config: CaptionRunConfig) -> RunSummary:
    """Load ``spec`` and caption ``items`` into ``config.out`` (the caller may already hold its lock)."""
    from avcap.data.lock import OutputLock

    with OutputLock(config.out, what="captions file"):  # before loading: a second writer stops at once
        captioner, policy = spec.load()
        return run_captioning(captioner, items, dataclasses.replace(config, frames=policy))


__all__ = ["run_local", "run_captioning"]
