"""Every command and sub-command is registered and its --help teaches: examples whose flags exist,
the offline names where models and judges are chosen, no value shown for on/off flags."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
from typer.testing import CliRunner

from avcap import __version__
from avcap.cli import app

# Each verb and sub-command avcap must offer (DESIGN.md's CLI); removing a registration fails here.
EXPECTED = {
    ("demo",), ("caption",), ("eval",), ("media", "probe"), ("synth", "sample"), ("synth", "dataset"),
    ("train", "align"), ("train", "sft"), ("train", "dpo"), ("train", "gdpo"), ("train", "mrdpo"),
    ("arena", "serve"), ("arena", "rank"), ("arena", "pairs"), ("arena", "gold"), ("arena", "export"),
    ("bench", "list"), ("bench", "show"), ("bench", "run"), ("bench", "calibrate"),
    ("pairs", "negatives"), ("pairs", "stats"), ("train", "negdpo"),
    ("train", "grpo"), ("data", "checklist"), ("data", "fuse"),
}


def _leaves(command, path=()):
    if hasattr(command, "commands"):  # a group (Typer vendors its own click)
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_leaves(typer.main.get_command(app)))


def _help(path) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_expected_command_is_registered():
    assert EXPECTED <= set(COMMANDS), EXPECTED - set(COMMANDS)


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"avcap {__version__}"


def _examples(text: str) -> list[str]:
    lines = [re.sub(r"[│|]", " ", line).strip() for line in text.splitlines()]
    examples, current = [], None
    for line in lines:
        if current is not None:
            current += " " + line
        elif line.startswith("avcap "):
            current = line
        else:
            continue
        if current.endswith("\\"):  # a shell line continuation
            current = current[:-1]
            continue
        examples.append(current.split("  #")[0].strip())
        current = None
    return examples


def _option_names(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_has_a_working_example_and_no_flag_types(path):
    text = _help(path)
    examples = [e for e in _examples(text) if e.startswith("avcap " + " ".join(path))]
    assert examples, f"`avcap {' '.join(path)} --help` shows no example"
    if path[0] != "train":  # train takes config keys as --key value, checked below
        known = _option_names(COMMANDS[path])
        for example in examples:
            used = {word.split("=")[0] for word in shlex.split(example) if word.startswith("--")}
            assert used <= known, f"{example}: unknown options {used - known}"
    assert "<bool>" not in text


@pytest.mark.parametrize("recipe", ["align", "sft", "dpo", "gdpo", "mrdpo", "negdpo"])
def test_train_examples_use_real_config_keys(recipe):
    from avcap.config import parse_overrides
    from avcap.train.configs import RECIPE_CONFIGS

    (example,) = [e for e in _examples(_help(("train", recipe))) if e.startswith(f"avcap train {recipe}")]
    words = shlex.split(example)[3:]
    keys = parse_overrides([w for w in words])
    keys.pop("config", None)
    import dataclasses

    def check(cls, values, prefix=""):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in values.items():
            assert key in fields, f"{example}: {prefix}{key} is not a key of {cls.__name__}"
            if isinstance(value, dict):
                import typing

                check(typing.get_type_hints(cls)[key], value, f"{prefix}{key}.")

    check(RECIPE_CONFIGS[recipe], keys)


@pytest.mark.parametrize("path, names", [
    (("caption",), ["builtin:nano", "tiny:"]), (("demo",), ["builtin:nano"]),
    (("eval",), ["--judge symbolic"]), (("train", "sft"), ["builtin:nano", "tiny:"]),
])
def test_offline_names_appear_where_models_and_judges_are_chosen(path, names):
    text = _help(path)
    for name in names:
        assert name in text, f"`avcap {' '.join(path)} --help` does not mention {name}"
