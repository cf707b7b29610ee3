"""video-SALMONN 2+ as released: its module tree and its inputs (dataset.py, rope2d.py, inference.py)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import QFormer, Qwen2Decoder, WhisperEncoder, unfold_windows

IGNORE = -100


class PlusAudio(nn.Module):
    """``audio``: the release's WhisperEncoder subclass with qformer, q_tokens and audio_proj inside."""

    def __init__(self, a):
        super().__init__()
        q = a["qformer_config"]
        self.whisper = WhisperEncoder(a["num_mel_bins"], a["d_model"], a["encoder_layers"], a["encoder_attention_heads"],
                                      a["encoder_ffn_dim"], a.get("max_source_positions", 1500))
        # Flatten the encoder's modules onto this one: the release's names are audio.conv1, audio.layers, ...
        for name in ("conv1", "conv2", "embed_positions", "layers", "layer_norm"):
            setattr(self, name, getattr(self.whisper, name))
        del self.whisper
        self.qformer = QFormer(q)
        self.q_tokens = nn.Parameter(torch.zeros(1, q.get("query_length", 1), q["hidden_size"]))
        self.audio_proj = nn.Linear(q["hidden_size"], q["out_hidden_size"])
        self.window = round(1500 * a.get("second_per_window", 0.5) / 30.0)
        self.stride = round(1500 * a.get("second_stride", 0.5) / 30.0)

    def forward(self, features):  # [C, mels, 3000] -> [C, tokens per chunk, D]
        x = F.gelu(self.conv2(F.gelu(self.conv1(features)))).permute(0, 2, 1) + self.embed_positions.weight
        for layer in self.layers:
            x = layer(x)
        x = self.layer_norm(x)
        chunks = x.shape[0]
        windows = unfold_windows(x, self.window, self.stride)
        out = self.qformer.bert(self.q_tokens.expand(windows.shape[0], -1, -1), windows)
        return self.audio_proj(out).view(chunks, -1, self.audio_proj.out_features)


class VideoSalmonn2Plus(nn.Module):
    """``visual``, ``audio``, ``model``, ``lm_head`` of ``video_SALMONN2_plus``."""

    def __init__(self, config: dict):
        super().__init__()
        from transformers import Qwen2_5_VLVisionConfig
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import (
            Qwen2_5_VisionTransformerPretrainedModel,
        )

        self.config = config
        vision = Qwen2_5_VLVisionConfig(**config["vision_config"])
        vision._attn_implementation = "eager"
        self.visual = Qwen2_5_VisionTransformerPretrainedModel(vision)
        self.audio = PlusAudio(config["audio_config"])
        self.model = Qwen2Decoder(config, mrope_section=config["rope_scaling"]["mrope_section"])
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)

    def prepare_inputs_for_generation(self, *args, **kwargs):  # GenerationMixin's hook, which peft's
        raise NotImplementedError  # PeftModelForCausalLM looks up; generation here is ``greedy``

    def load_release_weights(self, state: dict) -> None:
        """The checkpoint's tensors under their own names (buffers the release does not save aside)."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert all("inv_freq" in k for k in missing), missing

    def embed(self, inputs: dict) -> torch.Tensor:
        ids = inputs["input_ids"]
        embeds = self.model.embed_tokens(ids)
        if "pixel_values_videos" in inputs:
            video = self.visual(inputs["pixel_values_videos"], grid_thw=inputs["video_grid_thw"])
            video = getattr(video, "pooler_output", video)
            mask = (ids == self.config["video_token_id"]).unsqueeze(-1).expand_as(embeds)
            embeds = embeds.masked_scatter(mask, video)
        if "pixel_values" in inputs:
            image = self.visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"])
            image = getattr(image, "pooler_output", image)
            mask = (ids == self.config["image_token_id"]).unsqueeze(-1).expand_as(embeds)
            embeds = embeds.masked_scatter(mask, image)
        if inputs.get("audio_feature") is not None:
            audio = self.audio(inputs["audio_feature"]).flatten(0, 1)
            mask = (ids == self.config["audio_token_id"]).unsqueeze(-1).expand_as(embeds)
            embeds = embeds.masked_scatter(mask, audio)
        return embeds

    @torch.no_grad()
    def logits(self, inputs: dict, positions: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model(self.embed(inputs), positions))

    @torch.no_grad()
    def greedy(self, inputs: dict, positions: torch.Tensor, steps: int) -> list[int]:
        """generate(): one full pass per step; new tokens continue from the largest position + 1."""
        embeds, pos, out = self.embed(inputs), positions, []
        for _ in range(steps):
            token = int(self.lm_head(self.model(embeds, pos))[0, -1].argmax())
            out.append(token)
            embeds = torch.cat([embeds, self.model.embed_tokens(torch.tensor([[token]]))], dim=1)
            pos = torch.cat([pos, torch.full((3, 1, 1), int(pos.max()) + 1)], dim=-1)
        return out


# ---- inputs, as dataset.py builds them --------------------------------------------------------


def smart_resize(h, w, factor, min_pixels, max_pixels):
    hb, wb = round(h / factor) * factor, round(w / factor) * factor
    if hb * wb > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        hb, wb = max(factor, math.floor(h / beta / factor) * factor), max(factor, math.floor(w / beta / factor) * factor)
    elif hb * wb < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        hb, wb = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return hb, wb


def patchify(frames: np.ndarray, min_pixels: float, max_pixels: float, mean, std, patch=14, merge=2, temporal=2):
    """Qwen2VLImageProcessorFast._preprocess: bicubic resize, rescale, normalize, repeat the last
    frame to a full temporal patch, cut into patches. -> (pixel values [patches, C*2*14*14], (t, h, w))."""
    from torchvision.transforms.v2 import functional as TF

    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # [N, C, H, W] uint8
    h, w = smart_resize(video.shape[2], video.shape[3], patch * merge, min_pixels, max_pixels)
    if (h, w) != tuple(video.shape[2:]):
        video = TF.resize(video, [h, w], interpolation=TF.InterpolationMode.BICUBIC)
    x = video.float() / 255.0
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    if x.shape[0] % temporal:
        x = torch.cat([x, x[-1:].repeat(temporal - x.shape[0] % temporal, 1, 1, 1)])
    t, gh, gw = x.shape[0] // temporal, h // patch, w // patch
    x = x.view(t, temporal, 3, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(t * gh * gw, 3 * temporal * patch * patch)
    return x, (t, gh, gw)


def audio_features(wave: np.ndarray, extractor) -> tuple[torch.Tensor, int]:
    """process_audio: pad to >= 1 s, 30 s slices, log-mel each; 60 tokens per started slice."""
    sr = 16000
    if wave.shape[0] < sr:
        wave = np.pad(wave, (0, sr - wave.shape[0]))
    slices = [wave[k:k + 30 * sr] for k in range(0, len(wave), 30 * sr)]
    mels = [torch.from_numpy(np.asarray(extractor(s, sampling_rate=sr, return_tensors="np")["input_features"][0]))
            for s in slices]
    return torch.stack(mels), math.ceil(len(wave) / (30 * sr)) * 60


def split_into_groups(count: int, grids: int, second: float) -> list[int]:
    idx = (torch.arange(grids) * second * 2).long()
    groups = torch.diff(idx).tolist()
    return groups + [count - sum(groups)]


def prompt_ids(tokenizer, user_content: str) -> list[int]:
    """generate_id_target at test time: system turn, user turn (each rendered by the forced ChatML
    template and tokenized on its own), then the assistant header kept from the empty answer."""
    def turn(role, content):
        return tokenizer(f"<|im_start|>{role}\n{content}<|im_end|>\n", add_special_tokens=False).input_ids
    header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False).input_ids
    return turn("system", "You are a helpful assistant.") + turn("user", user_content) + header


def video_inputs(tokenizer, config: dict, frames: np.ndarray, wave: np.ndarray | None, duration_s: float, prompt: str,
                 extractor, max_pixels=61250, min_pixels=3136, max_frames=768):
    """_get_item(run_test=True) for one video row: ids, pixel values, grid, audio features, and the
    timing ``second_per_grid_ts`` the training positions use."""
    n = frames.shape[0]
    budget = 0.95 * max_frames / n * max_pixels if n < max_frames else max_pixels
    pixels, grid = patchify(frames, min_pixels, budget, (0.48145466, 0.4578275, 0.40821073),
                            (0.26862954, 0.26130258, 0.27577711))
    second = 2 / (n / duration_s)
    per_grid = grid[1] * grid[2] // 4
    if wave is None:
        block = "<|video_pad|>" * (grid[0] * per_grid)
        feats, length = None, None
    else:
        feats, length = audio_features(wave, extractor)
        groups = split_into_groups(length, grid[0], second)
        block = "".join("<|video_pad|>" * per_grid + "<|audio_pad|>" * g for g in groups)
    ids = prompt_ids(tokenizer, f"<|vision_start|>{block}<|vision_end|>\n{prompt}")
    inputs = {"input_ids": torch.tensor([ids]), "pixel_values_videos": pixels,
              "video_grid_thw": torch.tensor([grid]), "audio_feature": feats}
    return inputs, {"second_per_grid_t": second, "audio_length": length, "grid": grid}


def image_inputs(tokenizer, config: dict, image: np.ndarray, prompt: str, max_pixels=61250, min_pixels=12544):
    pixels, grid = patchify(image[None], min_pixels, max_pixels, (0.48145466, 0.4578275, 0.40821073),
                            (0.26862954, 0.26130258, 0.27577711))
    block = "<|image_pad|>" * (grid[0] * grid[1] * grid[2] // 4)
    ids = prompt_ids(tokenizer, f"<|vision_start|>{block}<|vision_end|>\n{prompt}")
    return {"input_ids": torch.tensor([ids]), "pixel_values": pixels, "image_grid_thw": torch.tensor([grid])}, grid


# ---- get_rope_index_25, its three branches, for one unpadded sequence ---------------------------


def rope_index(config: dict, ids: list[int], grid=None, second_per_grid_t=None, audio_length=None,
               image: bool = False) -> torch.Tensor:
    """Positions [3, 1, L]. Audio-visual branch when both a grid and an audio length are given;
    the video/image branch with a grid alone (second_per_grid_t None -> 1.0, as generate() gets);
    plain 1D positions otherwise (an audio-only prompt in generate())."""
    tokens = list(ids)
    vid = config["image_token_id"] if image else config["video_token_id"]
    if grid is None:
        return torch.arange(len(tokens)).view(1, 1, -1).expand(3, 1, -1)
    t, h, w = grid[0], grid[1] // 2, grid[2] // 2
    start = tokens.index(vid)
    pieces = [torch.arange(start).view(1, -1).expand(3, -1)]
    second = 0.0 if image else (1.0 if second_per_grid_t is None else second_per_grid_t)
    t_index = (torch.arange(t).view(-1, 1).expand(-1, h * w) * second * 2).long().flatten()
    h_index = torch.arange(h).view(1, -1, 1).expand(t, -1, w).flatten()
    w_index = torch.arange(w).view(1, 1, -1).expand(t, h, -1).flatten()
    video_pos = torch.stack([t_index, h_index, w_index]) + start
    if audio_length is not None and not image:
        time = torch.arange(audio_length)
        audio_pos = torch.stack([time, torch.zeros_like(time), time]) + start
        end = start + t * h * w + audio_length
        block = torch.zeros(3, end - start, dtype=torch.long)
        span = torch.tensor(tokens[start:end])
        block[:, span == config["audio_token_id"]] = audio_pos
        block[:, span == vid] = video_pos
        pieces.append(block)
        next_start = block[0].max() + 1  # the text after continues from the block's largest *time*
    else:
        end = start + t * h * w
        pieces.append(video_pos)
        next_start = video_pos.max() + 1
    pieces.append(torch.arange(len(tokens) - end).view(1, -1).expand(3, -1) + next_start)
    return torch.cat(pieces, dim=1).view(3, 1, -1)
