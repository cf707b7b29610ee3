"""Where captioning runs: ``local`` (batched, one device, in this process) and ``ray`` (Ray Data:
CPU decode tasks -> captioner actors, one writer in the driver). Both write the same rows
(:mod:`avcap.models.captioning`) and resume by ``(id, sample)``."""

from avcap.engines.spec import CaptionerSpec

ENGINES = ("local", "ray")

__all__ = ["ENGINES", "CaptionerSpec"]
