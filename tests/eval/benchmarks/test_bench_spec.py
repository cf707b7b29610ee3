"""The declarative definitions: each one loads and is complete; overrides are listed as deviations."""

import doctest

import pytest

from avcap.errors import ConfigError
from avcap.eval.benchmarks import Overrides, all_benchmarks, get_benchmark, text
from avcap.eval.benchmarks.formats import LOADERS
from avcap.eval.benchmarks.protocols import PROTOCOLS


@pytest.mark.parametrize("name", sorted(all_benchmarks()))
def test_every_definition_is_complete(name):
    spec = get_benchmark(name)
    assert spec.headline in PROTOCOLS[spec.protocol].KEYS and spec.data_format in LOADERS
    assert spec.hub_id.count("/") == 1 and spec.sources and spec.judge.model
    assert spec.describe()["sources"][0]["source"]


def test_seed_schedule_and_overrides():
    spec = get_benchmark("salmonn2-testset")
    assert [spec.judge.seed_for(run, attempt) for run, attempt in ((0, 0), (0, 1), (6, 0), (2, 9))] == [2024, 2025, 2030, 2035]
    assert get_benchmark("dream-1k").judge.seed_for(3, 4) is None
    changed, deviations = Overrides(judge_model="gpt-4.1", temperature=None, temperature_set=True, runs=3,
                                    no_fallback=True).apply(spec)
    assert (changed.judge.model, changed.judge.temperature, changed.runs, changed.fallback_prompt) == ("gpt-4.1", None, 3, False)
    assert deviations == ["judge model gpt-4.1 (protocol: gpt-3.5-turbo-0125)",
                          "judge temperature None (protocol: 0.0)", "3 judge runs (protocol: 7)",
                          "no fallback prompt (protocol: fallback after the retries)"]
    assert Overrides().apply(spec) == (spec, [])
    unseeded, why = Overrides(no_seed=True).apply(spec)
    assert unseeded.judge.seed is None and unseeded.judge.seed_for(3, 1) is None and why == ["judge seed None (protocol: 2024)"]
    with pytest.raises(ConfigError, match="no variant 'x'"):
        Overrides(variant="x").apply(spec)
    with pytest.raises(ConfigError, match="unknown benchmark"):
        get_benchmark("msr-vtt")


def test_collapse_repeats():
    assert doctest.testmod(text).failed == 0
    loop = "The man walks to the door. " * 20 + "He leaves."
    once = text.collapse_repeats(loop)
    assert once == "The man walks to the door. He leaves." and text.collapse_repeats(once) == once
    assert text.collapse_repeats("A dog barks. A cat meows. A dog barks.") == "A dog barks. A cat meows. A dog barks."
