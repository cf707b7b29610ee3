"""load_captioner: dispatch by config.json, tiny miniatures, hub ids (faked), errors; shared helpers."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from avcap.errors import ModelError
from avcap.models import DEFAULT_MODEL, GenerationConfig, load_captioner, omni, vl
from avcap.models.hf_common import (
    PixelBudget,
    collate,
    hf_generation_config,
    resolve_dtype,
    video_size_kwargs,
)
from avcap.models.registry import detect_family, resolve_checkpoint
from avcap.models.tiny import tiny_names, tiny_path

OFFICIAL_CONFIGS = {  # the fields detection reads, as in the released config.json files
    "omni": [
        {"model_type": "qwen2_5_omni", "architectures": ["Qwen2_5OmniModel"], "thinker_config": {}},  # AVoCaDO
        {"model_type": "qwen2_5_omni_thinker"},
        {"model_type": "qwen3_omni_moe", "architectures": ["Qwen3OmniMoeForConditionalGeneration"]},
    ],
    "vl": [
        {"model_type": "qwen2_vl", "architectures": ["Qwen2VLForConditionalGeneration"]},
        {"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"]},
        {"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"]},
        {"model_type": "llava", "architectures": ["TarsierForConditionalGeneration"],
         "text_config": {"model_type": "qwen2_vl"}},  # Tarsier2-Recap
    ],
}


@pytest.mark.parametrize("family", ["omni", "vl"])
def test_detect_claims_official_configs_of_its_family_only(family):
    for config in OFFICIAL_CONFIGS[family]:
        assert detect_family(config) == family
        assert {"omni": omni, "vl": vl}[family].detect(config)
        other = vl if family == "omni" else omni
        assert not other.detect(config)


def test_vl_does_not_claim_an_audio_visual_model_built_on_qwen25_vl():
    # A video-SALMONN 2+-like config: Qwen2.5-VL plus audio encoder fields.
    config = {"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"],
              "audio_config": {"d_model": 1280}}
    assert not vl.detect(config) and not omni.detect(config)


def test_unsupported_config_is_one_clear_model_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(ModelError) as err:
        load_captioner(tmp_path)
    message = str(err.value)
    assert "\n" not in message and "'llama'" in message and "omni" in message and "salmonn2" in message


@pytest.mark.parametrize("name, family, policy", [
    ("tiny:omni", "omni", "omni"), ("tiny:qwen3-omni", "omni", "omni"), ("tiny:qwen2-vl", "vl", "qwen-vl"),
    ("tiny:qwen2.5-vl", "vl", "qwen-vl"), ("tiny:qwen3-vl", "vl", "qwen-vl"), ("tiny:tarsier2", "vl", "tarsier2")])
def test_official_layout_folder_loads_with_backend_auto(name, family, policy, tmp_path, load_tiny):
    folder = tmp_path / "checkpoint"
    shutil.copytree(resolve_checkpoint(name), folder)  # a plain folder, as downloaded
    cap = load_captioner(folder)
    assert (cap.family, cap.frame_policy, cap.name) == (family, policy, str(folder))
    assert cap.model.dtype == torch.float32  # float32 on CPU by default
    ref = load_tiny(name).model.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in cap.model.state_dict().items())


def test_explicit_backend_and_bad_names(tmp_path):
    with pytest.raises(ModelError, match="not a Qwen-VL checkpoint"):
        load_captioner("tiny:omni", backend="vl")
    with pytest.raises(ModelError, match="backend 'whisper'"):
        load_captioner("tiny:omni", backend="whisper")
    with pytest.raises(ModelError, match="tiny:nope: unknown miniature"):
        load_captioner("tiny:nope")
    with pytest.raises(ModelError, match="no such folder"):
        load_captioner(str(tmp_path / "missing" / "dir"))
    with pytest.raises(ModelError, match="no config.json"):
        load_captioner(tmp_path)
    assert load_captioner("tiny:omni", backend="omni").family == "omni"


def test_missing_weights_are_reported_not_randomly_initialised(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "broken"
    shutil.copytree(resolve_checkpoint("tiny:qwen2-vl"), folder)
    weights = load_file(str(folder / "model.safetensors"))
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelError, match="1 missing"):
        load_captioner(folder)


def test_hub_ids_read_config_first_then_download(monkeypatch, tmp_path):
    import huggingface_hub

    local = tmp_path / "snapshot"
    shutil.copytree(resolve_checkpoint("tiny:qwen2.5-vl"), local)
    calls = []

    def fake_config(repo_id, filename, **kwargs):
        calls.append(("config", repo_id, filename))
        return str(local / filename)

    def fake_snapshot(repo_id, **kwargs):
        calls.append(("snapshot", repo_id))
        return str(local)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_config)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    cap = load_captioner("some-org/Some-Model-7B")
    # adapter_config.json first (absent here: a full checkpoint), then config.json, then the download.
    assert calls == [("config", "some-org/Some-Model-7B", "adapter_config.json"),
                     ("config", "some-org/Some-Model-7B", "config.json"), ("snapshot", "some-org/Some-Model-7B")]
    assert cap.name == "some-org/Some-Model-7B" and cap.family == "vl"


def test_default_model_is_the_video_salmonn_2_plus_checkpoint():
    # The full 2+ checkpoint (the release's inference.py); the un-suffixed ids are LoRA adapters.
    assert DEFAULT_MODEL == "tsinghua-ee/video-SALMONN2_plus_7B_full"


def test_dtypes_and_devices():
    assert resolve_dtype("cpu") == torch.float32 and resolve_dtype("cuda:0") == torch.bfloat16
    assert resolve_dtype("cpu", "bf16") == torch.bfloat16 and resolve_dtype("cuda", torch.float16) == torch.float16
    with pytest.raises(ModelError, match="dtype 'int8'"):
        resolve_dtype("cpu", "int8")
    assert load_captioner("tiny:qwen2-vl", dtype="bf16").model.dtype == torch.bfloat16


def test_tiny_models_are_cached_and_listed():
    first = tiny_path("tiny:qwen3-vl")
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert tiny_path("qwen3-vl") == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert {"omni", "qwen3-omni", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "salmonn2", "salmonn2-v1"} <= set(tiny_names())
    files = {p.name for p in first.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
            "processor_config.json"} <= files


def test_pixel_budget_matches_the_qwen_utils_rule():
    # AVoCaDO as its run behaves: 401,408 per frame, qwen-omni-utils' default 90,316,800 in all (its
    # 20,070,400 is set after the library read its limits), 100,352 minimum.
    avocado = omni.AVOCADO_PIXELS
    assert avocado.frame_max_pixels(200) == 401_408  # 90,316,800 / 200 * 2 = 903,168 -> capped per frame
    assert avocado.frame_max_pixels(600) == 301_056  # an even share: 90,316,800 / 600 * 2
    stated = PixelBudget(min_pixels=100_352, max_pixels=401_408, total_pixels=20_070_400)
    assert stated.frame_max_pixels(200) == 200_704  # the stated total would share 20,070,400 / 200 * 2
    assert stated.frame_max_pixels(1000) == 105_369  # floor: 1.05 * 100,352
    assert vl.TARSIER2_PIXELS.frame_max_pixels(32) == 460_800  # 16 frames doubled: 18,874,368 / 32 > 460,800
    assert vl.TARSIER2_PIXELS.frame_max_pixels(256) == 73_728
    with pytest.raises(ValueError):
        PixelBudget(min_pixels=10, max_pixels=5)


def test_video_size_kwargs_follow_each_processor_semantics():
    from transformers import Qwen2VLVideoProcessor, Qwen3VLVideoProcessor

    budget = PixelBudget(min_pixels=1000, max_pixels=5000, total_pixels=20_000)
    per_frame = video_size_kwargs(Qwen2VLVideoProcessor(), budget, num_frames=10)  # 20,000 / 10 * 2 = 4,000
    assert per_frame["size"] == {"shortest_edge": 1000, "longest_edge": 4000}
    whole_clip = video_size_kwargs(Qwen3VLVideoProcessor(), budget, num_frames=10)  # bounds x 10 frames
    assert whole_clip["size"] == {"shortest_edge": 10_000, "longest_edge": 40_000}
    assert per_frame["do_sample_frames"] is False  # clips arrive already sampled


def test_collate_left_pads_tokens_and_concatenates_patches():
    a = {"input_ids": torch.tensor([[5, 6, 7]]), "attention_mask": torch.ones(1, 3, dtype=torch.long),
         "pixel_values_videos": torch.ones(4, 2), "video_grid_thw": torch.tensor([[1, 2, 2]]),
         "input_features": torch.ones(1, 2, 3), "feature_attention_mask": torch.ones(1, 3, dtype=torch.long)}
    b = {"input_ids": torch.tensor([[8]]), "attention_mask": torch.ones(1, 1, dtype=torch.long),
         "pixel_values_videos": torch.zeros(8, 2), "video_grid_thw": torch.tensor([[2, 2, 2]]),
         "input_features": torch.ones(1, 2, 5), "feature_attention_mask": torch.ones(1, 5, dtype=torch.long)}
    batch = collate([a, b], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["pixel_values_videos"].shape == (12, 2) and batch["video_grid_thw"].tolist() == [[1, 2, 2], [2, 2, 2]]
    assert batch["input_features"].shape == (2, 2, 5)
    assert batch["feature_attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_generation_config_is_fresh_and_explicit():
    greedy = hf_generation_config(GenerationConfig(max_new_tokens=9), eos_token_ids=[3, 4], pad_token_id=0)
    assert (greedy.do_sample, greedy.max_new_tokens, greedy.eos_token_id) == (False, 9, [3, 4])
    hot = hf_generation_config(GenerationConfig(temperature=0.7, top_p=0.9, num_samples=2), [3], 0)
    assert (hot.do_sample, hot.temperature, hot.top_p, hot.top_k) == (True, 0.7, 0.9, 0)


def test_builtin_nano_is_shipped_and_loads_without_a_download(monkeypatch):
    import huggingface_hub

    from avcap.models.registry import BUILTIN_MODELS, NANO_MODEL

    def no_download(*args, **kwargs):
        raise AssertionError("builtin:nano must not touch the model hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    folder = resolve_checkpoint(NANO_MODEL)
    assert folder == BUILTIN_MODELS[NANO_MODEL] and (folder / "model.safetensors").is_file()
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 30 * 2**20  # the 30 MB limit
    captioner = load_captioner(NANO_MODEL, device="cpu")
    assert captioner.frame_policy != "salmonn2"  # its own 2 fps policy from avcap.json
    assert json.loads((folder / "training_report.json").read_text())["gdpo"]


def test_builtin_names_fail_in_one_line(monkeypatch, tmp_path):
    from avcap.models import registry

    with pytest.raises(ModelError, match="no such built-in model"):
        resolve_checkpoint("builtin:giant")
    monkeypatch.setitem(registry.BUILTIN_MODELS, "builtin:nano", tmp_path / "gone")
    with pytest.raises(ModelError, match="files are missing"):
        load_captioner("builtin:nano")
