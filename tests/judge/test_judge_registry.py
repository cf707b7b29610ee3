import pytest

from avcap.errors import ConfigError
from avcap.judge import BackendOptions, available_backends, create_backend, register_backend, registry
from avcap.judge.backends.scripted import ScriptedBackend


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})


def test_builtin_names():
    assert {"openai", "hf", "scripted", "symbolic"} <= set(available_backends())
    assert isinstance(create_backend("scripted", BackendOptions(model="demo")), ScriptedBackend)
    symbolic = create_backend("symbolic")
    assert (symbolic.name, symbolic.model) == ("symbolic", "symbolic-v1")
    with pytest.raises(ConfigError, match="unknown judge backend 'gpt'; choose one of: hf, openai, scripted, symbolic"):
        create_backend("gpt")


def test_register_by_name():
    register_backend("world", lambda options: ScriptedBackend(model=f"world-{options.model}"))
    assert create_backend("world", BackendOptions(model="7")).model == "world-7"
    with pytest.raises(ValueError, match="already exists"):
        register_backend("openai", lambda options: None)
    register_backend("openai", lambda options: ScriptedBackend(model="replaced"), replace=True)
    assert create_backend("openai").model == "replaced"
    with pytest.raises(ValueError):
        register_backend("a:b", lambda options: None)


def test_import_path_backends():
    backend = create_backend("avcap.judge.backends.scripted:from_options", BackendOptions(model="x"))
    assert backend.model == "x"
    with pytest.raises(ConfigError, match="cannot be imported"):
        create_backend("no.such.module:factory")


@pytest.mark.parametrize("kwargs", [{"timeout_s": 0}, {"max_new_tokens": 0}])
def test_options_validation(kwargs):
    with pytest.raises(ValueError):
        BackendOptions(**kwargs)
