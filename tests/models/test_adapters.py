"""PEFT LoRA adapters in the official layout (the 2+ hub repos): written by peft on the official
module tree exactly as the release trains them, loaded by avcap on its base, merged or kept."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from avcap.errors import ModelError
from avcap.models import load_captioner
from avcap.models.adapters import read_adapter_weights

from .conftest_salmonn2 import make_clip, tiny_dir
from .official import plus as official_plus
from .official.adapter import ALPHA, R, merged_release_model, write_adapter
from .test_official_parity import PROMPT


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    return write_adapter(tiny_dir("plus"), tmp_path_factory.mktemp("adapter") / "video-SALMONN-2_plus_tiny")


def test_the_adapter_is_written_in_the_release_layout(adapter_dir):
    keys = set(read_adapter_weights(adapter_dir))
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in keys
    assert "base_model.model.visual.merger.mlp.0.weight" in keys and "base_model.model.audio.audio_proj.weight" in keys
    assert not any(k.startswith("base_model.model.audio.layers.") for k in keys)  # Whisper got no LoRA
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_dir("plus"))


@pytest.mark.parametrize("mode", ["merge", "keep"])
def test_adapter_captioner_equals_the_release_merged_model(adapter_dir, mode):
    captioner = load_captioner(str(adapter_dir), adapter=mode)
    assert captioner.adapter["mode"] == mode and captioner.name == str(adapter_dir)
    clip = make_clip(6, 3.0, seed=2, size=(56, 56))
    batch = captioner.processor([clip], [PROMPT], positions="training")
    tree = merged_release_model(tiny_dir("plus"), adapter_dir)
    inputs, timing = official_plus.video_inputs(captioner.tokenizer, tree.config, clip.frames, clip.audio,
                                                clip.duration_s, PROMPT, captioner.processor.feature_extractor)
    pos = official_plus.rope_index(tree.config, inputs["input_ids"][0].tolist(), timing["grid"],
                                   timing["second_per_grid_t"], timing["audio_length"])
    with torch.no_grad():
        ours = captioner.model(batch)
    theirs = tree.logits(inputs, pos)
    diff = float((ours - theirs).abs().max())
    print(f"parity 2+ adapter ({mode}): max |logit difference| = {diff:.2e}")
    assert diff < 1e-4
    base = load_captioner(str(tiny_dir("plus")))
    with torch.no_grad():
        assert float((base.model(batch) - ours).abs().max()) > 1e-2  # the adapter changed the model


def test_merged_weights_are_the_base_plus_scaled_lora_product(adapter_dir):
    merged = load_captioner(str(adapter_dir)).model.state_dict()
    base = load_captioner(str(tiny_dir("plus"))).model.state_dict()
    file = read_adapter_weights(adapter_dir)
    prefix = "base_model.model.model.layers.1.self_attn.v_proj"
    a, b = file[prefix + ".lora_A.weight"], file[prefix + ".lora_B.weight"]
    ours = "llm.model.language_model.layers.1.self_attn.v_proj.weight"
    torch.testing.assert_close(merged[ours], base[ours] + (ALPHA / R) * b @ a, rtol=0, atol=1e-6)
    # a modules_to_save copy replaces the base's weights; Whisper's q_proj is left as it was
    torch.testing.assert_close(merged["audio.proj.weight"], file["base_model.model.audio.audio_proj.weight"])
    torch.testing.assert_close(merged["audio.encoder.layers.0.self_attn.q_proj.weight"],
                               base["audio.encoder.layers.0.self_attn.q_proj.weight"], rtol=0, atol=0)


def test_hub_adapter_ids_load_on_their_base(adapter_dir, monkeypatch, tmp_path):
    """The hub's video-SALMONN-2_plus_7B is an adapter: avcap fetches it, then its base."""
    import huggingface_hub

    adapter_id, base_id = "tsinghua-ee/video-SALMONN-2_plus_7B", "tsinghua-ee/Qwen2.5-VL-7B-Instruct-Audio-LargerQF"
    local = tmp_path / "hub-adapter"
    shutil.copytree(adapter_dir, local)
    settings = json.loads((local / "adapter_config.json").read_text())
    settings["base_model_name_or_path"] = base_id
    (local / "adapter_config.json").write_text(json.dumps(settings))
    repos = {adapter_id: local, base_id: tiny_dir("plus")}
    calls = []

    def fake_file(repo_id, filename, **kwargs):
        calls.append((repo_id, filename))
        path = repos[repo_id] / filename
        if not path.exists():
            raise huggingface_hub.errors.EntryNotFoundError(f"{filename} not in {repo_id}")
        return str(path)

    def fake_snapshot(repo_id, **kwargs):
        calls.append((repo_id, "snapshot"))
        return str(repos[repo_id])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_file)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    captioner = load_captioner(adapter_id)
    assert captioner.name == adapter_id and captioner.variant == "plus" and captioner.adapter["mode"] == "merge"
    assert calls[:2] == [(adapter_id, "adapter_config.json"), (adapter_id, "snapshot")]
    assert (base_id, "config.json") in calls and (base_id, "snapshot") in calls
    with pytest.raises(ModelError, match="--base-model"):
        settings["base_model_name_or_path"] = str(tmp_path / "nowhere")
        (local / "adapter_config.json").write_text(json.dumps(settings))
        load_captioner(str(local))
    assert load_captioner(str(local), base_model=str(tiny_dir("plus"))).adapter["mode"] == "merge"


def test_bad_adapters_fail_in_one_line(adapter_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(adapter_dir, broken)
    from safetensors.torch import load_file, save_file

    state = load_file(str(broken / "adapter_model.safetensors"))
    state["base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight"] = torch.zeros(R, 64)
    save_file(state, str(broken / "adapter_model.safetensors"))
    with pytest.raises(ModelError, match="have no place in") as err:
        load_captioner(str(broken))
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="merge or keep"):
        load_captioner(str(adapter_dir), adapter="fold")
    with pytest.raises(ModelError, match="--base-model applies to adapter"):
        load_captioner(str(tiny_dir("plus")), base_model=str(tiny_dir("plus")))
