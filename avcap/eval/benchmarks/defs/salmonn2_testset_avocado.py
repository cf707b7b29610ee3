"""The video-SALMONN 2 test set as AVoCaDO evaluates it: the same protocol with GPT-4.1 as judge."""

from dataclasses import replace

from avcap.eval.benchmarks.defs.salmonn2_testset import SPEC as _BASE

SPEC = replace(
    _BASE,
    name="salmonn2-testset-avocado",
    title="video-SALMONN 2 test set, AVoCaDO's variant (judge GPT-4.1)",
    judge=replace(_BASE.judge, model="gpt-4.1"),
    variant_of=_BASE.name,
    paper="AVoCaDO (2025), Table 1 note and Sec. 4.1",
    sources=(
        ("judge gpt-4.1 instead of gpt-3.5 (the original 'occasionally led to misjudgments')",
         "AVoCaDO Table 1 note; REFERENCE.md, AVoCaDO"),
        ("7 runs, median run; otherwise the official test-set protocol", "REFERENCE.md, AVoCaDO"),
        *_BASE.sources[1:],
    ),
)
