"""The nano video-SALMONN 2: official layout, load_captioner, its frame policy, captioning a synthetic video."""

from __future__ import annotations

import json
import math

import pytest

from avcap.models import load_captioner
from avcap.models.base import GenerationConfig
from avcap.models.salmonn2.nano import NANO_FRAME_POLICY, build_nano, nano_vocabulary


@pytest.fixture(scope="module")
def nano(tmp_path_factory):
    return build_nano(tmp_path_factory.mktemp("nano") / "model")


@pytest.fixture(scope="module")
def synth_rows(tmp_path_factory):
    """Two videos of the synthetic world (no speech), with their ground-truth rows."""
    from avcap.synth.dataset import DatasetConfig, build_dataset
    from avcap.synth.world import WorldConfig

    out = tmp_path_factory.mktemp("synth")
    build_dataset(DatasetConfig(out=out, n=2, seed=5, world=WorldConfig(speech=False)), progress=False)
    rows = json.loads((out / "train.json").read_text())
    return [(out / row["video"], row) for row in rows]


def test_layout_and_size(nano):
    config = json.loads((nano / "config.json").read_text())
    assert config["architectures"] == ["VideoSALMONN2ForCausalLM"]
    assert (nano / "model.safetensors").stat().st_size <= 30 * 2**20
    settings = json.loads((nano / "avcap.json").read_text())
    assert settings["frame_policy"] == NANO_FRAME_POLICY
    assert settings["parameters"]["total"] == sum(v for k, v in settings["parameters"].items() if k != "total")


def test_word_level_tokenizer_covers_every_caption_word(nano):
    from avcap.synth.language import caption_vocabulary

    captioner = load_captioner(nano)
    tok = captioner.tokenizer
    assert len(tok) == len(nano_vocabulary())
    ids = tok("A green circle appears at the bottom. After that, two beeps sound.").input_ids
    assert tok.unk_token_id not in ids
    # Decoding gives the text back as written (capitals, no space before punctuation): the nano's
    # captions read like text, for LLM judges and people alike.
    assert tok.decode(ids) == "A green circle appears at the bottom. After that, two beeps sound."
    assert all(tok.convert_tokens_to_ids(w) != tok.unk_token_id for w in caption_vocabulary())
    # The special tokens the processor writes are single ids, not split into words.
    assert tok("<|im_start|>user<|im_end|>").input_ids == [tok.convert_tokens_to_ids(t) for t in
                                                          ("<|im_start|>", "user", "<|im_end|>")]


def test_every_ground_truth_caption_round_trips_through_the_tokenizer(nano):
    from avcap.synth.language import caption_from_script
    from avcap.synth.sampler import sample_script

    tok = load_captioner(nano).tokenizer
    for i in range(200):
        caption = caption_from_script(sample_script((7, i)))
        ids = tok(caption, add_special_tokens=False).input_ids
        assert tok.unk_token_id not in ids, caption
        assert tok.decode(ids, skip_special_tokens=True) == caption


def test_loads_with_its_own_frame_policy_and_captions_synthetic_videos(nano, synth_rows):
    from avcap.media import load_clip
    from avcap.synth.language import caption_vocabulary, words_of

    captioner = load_captioner(nano)
    policy = captioner.frame_policy
    assert (policy.name, policy.fps, policy.max_frames, policy.size) == (
        "salmonn2", NANO_FRAME_POLICY["fps"], NANO_FRAME_POLICY["max_frames"], NANO_FRAME_POLICY["size"])
    clips = [load_clip(path, policy=policy) for path, _ in synth_rows]
    for clip in clips:
        # 2 fps (ceil(2 T) frames, 0.5 s apart): events 0.5 s apart fall on different frames,
        # which the release's 1 fps would merge.
        assert clip.num_frames == min(NANO_FRAME_POLICY["max_frames"], math.ceil(clip.duration_s * 2 - 1e-6))
        assert abs(float(clip.frame_times[1] - clip.frame_times[0]) - 0.5) < 0.05
        assert min(clip.frames.shape[1:3]) <= NANO_FRAME_POLICY["size"]
    captions = captioner.caption(clips, "Describe the video in detail.", GenerationConfig(max_new_tokens=12))
    assert len(captions) == 2 and all(captions)
    # A word-level model can only say words of its vocabulary: captions, prompts and punctuation.
    vocab = set(nano_vocabulary())
    assert all(set(words_of(c)) <= vocab for c in captions)
    assert set(caption_vocabulary()) <= vocab


def test_frame_policy_survives_save_pretrained(nano, tmp_path):
    captioner = load_captioner(nano)
    copy = load_captioner(captioner.save_pretrained(tmp_path / "copy"))
    assert copy.frame_policy == captioner.frame_policy


def test_official_checkpoint_without_avcap_json_keeps_the_release_policy(nano, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(nano, bare)
    (bare / "avcap.json").unlink()
    assert load_captioner(bare).frame_policy == "salmonn2"


def test_bad_frame_policy_override_is_one_config_error(nano, tmp_path):
    import shutil

    from avcap.errors import ConfigError

    bad = tmp_path / "bad"
    shutil.copytree(nano, bad)
    (bad / "avcap.json").write_text(json.dumps({"frame_policy": {"fps": 2.0, "frames_per_second": 3}}))
    with pytest.raises(ConfigError, match="frames_per_second"):
        load_captioner(bad)


def test_language_pretraining_trains_only_the_llm_and_lowers_its_loss(nano, tmp_path, capsys):
    """The stand-in for a pretrained LLM: text-only synthetic captions, the LLM's weights only."""
    from safetensors.torch import load_file

    from avcap.models.salmonn2.nano import main

    main([str(tmp_path / "lm"), "--text-captions", "64", "--text-steps", "12"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    stats = json.loads((tmp_path / "lm" / "avcap.json").read_text())["language_pretraining"]
    assert printed["language_pretraining"] == stats
    assert stats["captions"] == 64 and stats["steps"] == 12 and stats["last_loss"] < stats["first_loss"]
    random_init, pretrained = load_file(str(nano / "model.safetensors")), load_file(str(tmp_path / "lm" / "model.safetensors"))
    assert random_init.keys() == pretrained.keys()
    changed = {k for k in random_init if not (random_init[k] == pretrained[k]).all()}
    assert changed and all(k.startswith("model.layers.") or k.startswith(("model.embed_tokens", "model.norm", "lm_head"))
                           for k in changed), sorted(changed)[:5]


def test_audio_tokens_depend_on_the_sound_at_initialisation(nano):
    """The nano's audio path init (fan-in, gains on the input paths): a random-init audio path must not be blind."""
    import torch

    from avcap.models.salmonn2.nano import reinit_audio_path

    captioner = load_captioner(str(nano), device="cpu")
    audio = captioner.model.audio
    gen = torch.Generator().manual_seed(0)
    bins = int(audio.cfg.whisper["num_mel_bins"])
    sound = torch.randn((1, bins, 3000), generator=gen)
    silence = torch.full_like(sound, -1.5)

    def relative_change():
        with torch.no_grad():
            a, b = audio(sound, [1])[0], audio(silence, [1])[0]
        return float((a - b).norm() / a.norm())

    shipped = relative_change()
    torch.manual_seed(0)
    for module in list(audio.encoder.modules()) + list(audio.qformer.modules()):
        if hasattr(module, "weight") and module.weight is not None and module.weight.dim() >= 2:
            torch.nn.init.normal_(module.weight, std=0.02)  # what transformers' initialiser does
    assert relative_change() < 0.05
    reinit_audio_path(captioner.model)
    assert relative_change() > 0.2 and shipped > 0.2
