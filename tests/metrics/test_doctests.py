"""The worked examples in the metric docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["agreement", "autodq", "bootstrap", "checklist", "dialogue", "elo", "events", "length", "pairs", "qa", "repetition"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"avcap.metrics.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no worked examples"
    assert result.failed == 0
