"""Official checkpoint layouts: written by build_tiny, loaded with zero missing keys, errors listed in one message."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import avcap.models.salmonn2 as salmonn2
from avcap.errors import ModelError
from avcap.models.salmonn2.checkpoints import CheckpointFiles, check_keys, to_avcap, to_official

from .conftest_salmonn2 import copy_checkpoint, tiny_captioner, tiny_dir

PLUS_KEYS = [  # names of the release's modules (video_SALMONN2_plus, its WhisperEncoder and BERT Q-Former)
    "visual.patch_embed.proj.weight", "visual.blocks.0.attn.qkv.weight", "visual.merger.mlp.0.weight",
    "model.embed_tokens.weight", "model.layers.1.self_attn.q_proj.weight", "model.norm.weight", "lm_head.weight",
    "audio.conv1.weight", "audio.embed_positions.weight", "audio.layers.0.self_attn.k_proj.weight",
    "audio.layer_norm.weight", "audio.q_tokens", "audio.audio_proj.weight",
    "audio.qformer.bert.embeddings.LayerNorm.weight",
    "audio.qformer.bert.encoder.layer.0.attention.self.query.weight",
    "audio.qformer.bert.encoder.layer.1.crossattention.self.key.weight",
    "audio.qformer.bert.encoder.layer.1.intermediate_query.dense.weight",
    "audio.qformer.bert.encoder.layer.1.output_query.LayerNorm.bias",
]
V1_KEYS = [  # names of VideoSALMONN2ForCausalLM (LLaVA-OneVision + SALMONN audio branch)
    "model.vision_tower.vision_tower.vision_model.embeddings.patch_embedding.weight",
    "model.vision_tower.vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight",
    "model.vision_tower.vision_tower.vision_model.post_layernorm.weight",
    "model.mm_projector.0.weight", "model.mm_projector.2.weight", "model.image_newline",
    "model.embed_tokens.weight", "model.layers.0.mlp.gate_proj.weight", "lm_head.weight",
    "speech_encoder.conv2.weight", "speech_encoder.layers.0.fc1.weight", "ln_speech.weight",
    "speech_Qformer.bert.embeddings.LayerNorm.bias", "speech_Qformer.bert.encoder.layer.0.attention.self.value.bias",
    "speech_Qformer.bert.encoder.layer.1.crossattention.output.dense.weight",
    "speech_query_tokens", "speech_llama_proj.weight", "final_linear.0.weight", "final_linear.2.bias",
]


def official_keys(folder) -> set[str]:
    return set(CheckpointFiles(folder).shapes())


def test_tiny_plus_is_written_in_the_release_layout():
    folder = tiny_dir("plus")
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 2  # sharded, with an index
    assert set(PLUS_KEYS) <= set(index["weight_map"])
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["video_SALMONN2_plus"]
    assert set(config["audio_config"]) >= {"second_per_window", "second_stride", "qformer_config"}
    assert json.loads((folder / "preprocessor_config.json").read_text())["temporal_patch_size"] == 2
    tok = tiny_captioner("plus").tokenizer
    assert config["audio_token_id"] == tok.convert_tokens_to_ids("<|audio_pad|>")
    for name in ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|video_pad|>", "<|image_pad|>"):
        assert tok.convert_tokens_to_ids(name) != tok.unk_token_id
    assert tok.chat_template
    n_params = sum(p.numel() for p in tiny_captioner("plus").model.parameters())
    assert n_params < 5_000_000


def test_tiny_v1_is_written_in_the_release_layout():
    folder = tiny_dir("v1")
    assert (folder / "model.safetensors").is_file()
    assert set(V1_KEYS) <= official_keys(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "video_salmonn_2" and config["model_args"]["second_per_window"] == 0.5


@pytest.mark.parametrize("variant", ["plus", "v1"])
def test_loads_with_zero_missing_keys_and_the_files_values(variant):
    captioner = tiny_captioner(variant)
    folder = tiny_dir(variant)
    shapes = CheckpointFiles(folder).shapes()
    mapping = check_keys(captioner.model, shapes, variant, folder)  # raises on any missing key
    assert set(mapping.values()) == set(captioner.model.state_dict())
    params = captioner.model.state_dict()
    for key, tensor in CheckpointFiles(folder).tensors():
        torch.testing.assert_close(params[mapping[key]], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["plus", "v1"])
def test_key_names_round_trip(variant):
    for key in official_keys(tiny_dir(variant)):
        assert to_official(to_avcap(key, variant), variant) == key
    assert to_avcap("module.module.audio.q_tokens", "plus") == "audio.query_tokens"
    assert (to_avcap("audio.qformer.bert.encoder.layer.1.crossattention.self.value.bias", "plus")
            == "audio.qformer.encoder.layer.1.crossattention.attention.value.bias")
    assert to_avcap("speech_Qformer.bert.embeddings.position_ids", "v1") is None  # a buffer, ignored


def test_module_prefixed_pytorch_bin_loads(tmp_path):
    # The release's DeepSpeed saves are .bin files whose keys start with "module.".
    folder = copy_checkpoint("v1", tmp_path / "ckpt")
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    prefixed = {"module." + k: v for k, v in state.items()}
    prefixed["module.speech_Qformer.bert.embeddings.position_ids"] = torch.arange(512)[None]
    torch.save(prefixed, folder / "pytorch_model.bin")
    loaded = salmonn2.load(str(folder))
    reference = tiny_captioner("v1").model.state_dict()
    for key, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0)


def _rewrite_first_shard(folder, edit) -> None:
    index_path = folder / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shard = sorted(set(index["weight_map"].values()))[0]
    state = load_file(str(folder / shard))
    edit(state)
    save_file(state, str(folder / shard))
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if v != shard} | dict.fromkeys(state, shard)
    index_path.write_text(json.dumps(index))


def test_missing_unexpected_and_misshaped_keys_fail_in_one_message(tmp_path):
    folder = copy_checkpoint("plus", tmp_path / "ckpt")
    with safe_open(str(folder / sorted(set(json.loads(
            (folder / "model.safetensors.index.json").read_text())["weight_map"].values()))[0]), "pt") as f:
        first_keys = sorted(f.keys())
    dropped, misshaped = first_keys[0], first_keys[1]

    def edit(state):
        del state[dropped]
        state[misshaped] = torch.zeros(3, 3)
        state["audio.extra_head.weight"] = torch.zeros(2)

    _rewrite_first_shard(folder, edit)
    with pytest.raises(ModelError) as err:
        salmonn2.load(str(folder))
    message = str(err.value)
    assert "1 missing keys" in message and dropped in message
    assert "1 unexpected keys" in message and "audio.extra_head.weight" in message
    assert "1 shape mismatches" in message and misshaped in message
    assert "\n" not in message


def test_missing_shard_and_foreign_config_are_model_errors(tmp_path):
    folder = copy_checkpoint("plus", tmp_path / "ckpt")
    next(folder.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(ModelError, match="shard files missing"):
        salmonn2.load(str(folder))
    other = copy_checkpoint("v1", tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    config.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2")
    config.pop("model_args")
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="not a video-SALMONN 2"):
        salmonn2.load(str(other))
    with pytest.raises(ModelError):
        salmonn2.load(str(tmp_path / "does-not-exist"))


def test_detect_reads_the_release_fields():
    assert salmonn2.FAMILY == "salmonn2"
    assert salmonn2.detect(json.loads((tiny_dir("plus") / "config.json").read_text()))
    assert salmonn2.detect(json.loads((tiny_dir("v1") / "config.json").read_text()))
    assert salmonn2.detect({"architectures": ["video_SALMONN2_plus"], "model_type": "qwen2_5_vl"})
    assert salmonn2.detect({"model_type": "qwen2_5_vl", "audio_token_id": 151665,
                            "audio_config": {"d_model": 1280, "qformer_config": {}}})
    assert salmonn2.detect({"architectures": ["VideoSALMONN2ForCausalLM"]})
    assert salmonn2.detect({"model_type": "llava", "mm_projector_type": "mlp2x_gelu",
                            "model_args": {"whisper_path": "openai/whisper-large-v3"}})
    # Plain visual LLMs and omni models are other families.
    assert not salmonn2.detect({"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl"})
    assert not salmonn2.detect({"model_type": "qwen2_5_omni", "architectures": ["Qwen2_5OmniModel"]})
    assert not salmonn2.detect({"model_type": "llava", "mm_projector_type": "mlp2x_gelu"})
    assert not salmonn2.detect({})


def test_hub_ids_go_through_snapshot_download(monkeypatch):
    # The full 2+ checkpoint (what the release's inference.py loads); the un-suffixed
    # tsinghua-ee/video-SALMONN-2_plus_7B is a LoRA adapter (tests/models/test_adapters.py).
    import huggingface_hub

    calls = []
    full = "tsinghua-ee/video-SALMONN2_plus_7B_full"

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append(repo_id)
        if repo_id == full:
            return str(tiny_dir("plus"))
        raise OSError("404 not found")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    captioner = salmonn2.load(full)
    assert captioner.name == full and captioner.variant == "plus"
    with pytest.raises(ModelError, match="model hub"):
        salmonn2.load("nobody/missing-model")
    assert calls == [full, "nobody/missing-model"]


def test_save_pretrained_writes_a_loadable_release_layout(tmp_path):
    captioner = tiny_captioner("v1")
    out = captioner.save_pretrained(tmp_path / "saved", shards=2)
    assert (out / "model.safetensors.index.json").is_file() and (out / "tokenizer_config.json").is_file()
    assert set(V1_KEYS) <= official_keys(out)
    reloaded = salmonn2.load(str(out))
    for key, value in reloaded.model.state_dict().items():
        torch.testing.assert_close(value, captioner.model.state_dict()[key], rtol=0, atol=0)
