"""One executor per kind of scoring; ``PROTOCOLS[spec.protocol]`` scores a benchmark."""

from avcap.eval.benchmarks.protocols import autodq, events, qa, ugc, vdc

PROTOCOLS = {"events": events, "autodq": autodq, "qa": qa, "ugc": ugc, "vdc": vdc}

__all__ = ["PROTOCOLS"]
