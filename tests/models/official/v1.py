"""The first video-SALMONN 2 release as released: VideoSALMONN2ForCausalLM and its inputs."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import QFormer, Qwen2Decoder, SiglipVisionModel, WhisperEncoder, unfold_windows

IMAGE_TOKEN_INDEX = -200


class V1Model(Qwen2Decoder):
    """``model``: the Qwen2 decoder plus LLaVA's vision_tower.vision_tower, mm_projector, image_newline."""

    def __init__(self, cfg, vision: dict):
        super().__init__(cfg)
        tower = nn.Module()
        tower.vision_model = SiglipVisionModel(vision["hidden_size"], vision["patch_size"], vision["image_size"],
                                               vision["num_hidden_layers"], vision["num_attention_heads"],
                                               vision["intermediate_size"])
        self.vision_tower = nn.Module()
        self.vision_tower.vision_tower = tower
        self.mm_projector = nn.Sequential(nn.Linear(vision["hidden_size"], cfg["hidden_size"]), nn.GELU(),
                                          nn.Linear(cfg["hidden_size"], cfg["hidden_size"]))
        self.image_newline = nn.Parameter(torch.zeros(cfg["hidden_size"]))


class VideoSalmonn2(nn.Module):
    def __init__(self, config: dict, vision: dict, whisper: dict, qformer: dict):
        super().__init__()
        self.config = config
        self.model = V1Model(config, vision)
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)
        self.speech_encoder = WhisperEncoder(whisper["num_mel_bins"], whisper["d_model"], whisper["encoder_layers"],
                                             whisper["encoder_attention_heads"], whisper["encoder_ffn_dim"])
        self.ln_speech = nn.LayerNorm(whisper["d_model"])
        self.speech_Qformer = QFormer(qformer)
        self.speech_query_tokens = nn.Parameter(torch.zeros(1, 1, qformer["hidden_size"]))
        self.speech_llama_proj = nn.Linear(qformer["hidden_size"], config["hidden_size"])
        self.final_linear = nn.Sequential(nn.Linear(config["hidden_size"], config["hidden_size"]), nn.GELU(),
                                          nn.Linear(config["hidden_size"], config["hidden_size"]))
        self.pool = config.get("mm_spatial_pool_stride", 2)

    def encode_images(self, pixels):  # [N, 3, S, S] -> [N, pooled², D] (projector, then 2x2 max-pool)
        x = self.model.mm_projector(self.model.vision_tower.vision_tower.vision_model(pixels))
        n, tokens, d = x.shape
        side = int(math.isqrt(tokens))
        x = F.max_pool2d(x.view(n, side, side, d).permute(0, 3, 1, 2), self.pool)
        return x.permute(0, 2, 3, 1).reshape(n, -1, d)

    def encode_speech(self, spectrogram):  # [C, mels, 3000] -> [C, 60, D], plus the segment embedding
        x = self.ln_speech(self.speech_encoder(spectrogram))
        chunks = x.shape[0]
        windows = unfold_windows(x, round(1500 * 0.5 / 30.0), round(1500 * 0.5 / 30.0))
        out = self.speech_Qformer.bert(self.speech_query_tokens.expand(windows.shape[0], -1, -1), windows)
        out = self.final_linear(self.speech_llama_proj(out)).view(chunks, -1, self.config["hidden_size"])
        d = out.shape[-1]
        position = torch.arange(0, 200, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * -(torch.log(torch.tensor(10000.0)) / d))
        table = torch.zeros(201, d)
        table[1:, 0::2], table[1:, 1::2] = torch.sin(position * div), torch.cos(position * div)
        return (out + table[:chunks].unsqueeze(1)).reshape(-1, d)

    def av_block(self, pixels, spectrogram, real_time: float, time_ids=None):
        """prepare_inputs_labels_for_multimodal, mm_newline_position "grid", for one clip."""
        feats = self.encode_images(pixels)
        n, tokens, d = feats.shape
        side = int(math.isqrt(tokens))
        grid = feats.view(n, 1, side, side, d).permute(4, 0, 2, 1, 3).flatten(1, 2).flatten(2, 3)
        grid = torch.cat([grid, self.model.image_newline[:, None, None].expand(*grid.shape[:-1], 1)], dim=-1)
        frames = grid.flatten(1, 2).transpose(0, 1).view(n, -1, d)
        if spectrogram is None:  # modality "video": each frame's time as text, zero-padded (add_time_token)
            times = [self.model.embed_tokens(torch.tensor(t)) for t in time_ids]
            padded = nn.utils.rnn.pad_sequence(times, batch_first=True)
            return torch.cat([frames, padded], dim=1).reshape(-1, d)
        speech = self.encode_speech(spectrogram)
        front_num = round(real_time * 50)
        front, back = speech[:front_num], speech[front_num:]
        if (delta := front.shape[0] % n) != 0:
            size = front.shape[0] + n - delta
            front = F.interpolate(front.unsqueeze(0).transpose(1, 2), size=size, mode="nearest").transpose(1, 2).squeeze()
        av = torch.cat([frames, front.view(n, -1, d)], dim=1).view(-1, d)
        return torch.cat([av, back], dim=0)

    def embed(self, ids: list[int], block: torch.Tensor) -> torch.Tensor:
        at = ids.index(IMAGE_TOKEN_INDEX)
        before, after = torch.tensor(ids[:at]), torch.tensor(ids[at + 1:])
        return torch.cat([self.model.embed_tokens(before), block, self.model.embed_tokens(after)])[None]

    @torch.no_grad()
    def logits(self, embeds):
        return self.lm_head(self.model(embeds, torch.arange(embeds.shape[1])[None]))

    @torch.no_grad()
    def greedy(self, embeds, steps: int) -> list[int]:
        out = []
        for _ in range(steps):
            token = int(self.logits(embeds)[0, -1].argmax())
            out.append(token)
            embeds = torch.cat([embeds, self.model.embed_tokens(torch.tensor([[token]]))], dim=1)
        return out


def prompt_ids(tokenizer, prompt: str, prefix: str = "") -> list[int]:
    """preprocess_qwen for "<image>\\n" + prompt at test time (the answer's last 2 tokens cut)."""
    ids = lambda text: tokenizer(text, add_special_tokens=False).input_ids  # noqa: E731
    im_start, im_end = ids("<|im_start|>")[0], ids("<|im_end|>")[0]
    nl = ids("\n")
    system = [im_start] + ids("system") + nl + ids("You are a helpful assistant.") + [im_end] + nl
    user = ids("<|im_start|>user") + nl + [IMAGE_TOKEN_INDEX] + nl + ids("\n" + prompt) + [im_end] + nl
    answer = ids("<|im_start|>assistant") + nl + ids(prefix) + [im_end] + nl
    return system + user + answer[:-2]


def siglip_pixels(frames: np.ndarray, side: int) -> torch.Tensor:
    """The release's SigLipImageProcessor: PIL bicubic resize to side x side, rescale, normalize by 0.5."""
    from PIL import Image

    out = [np.asarray(Image.fromarray(f).resize((side, side), Image.BICUBIC), dtype=np.float32) / 255.0 for f in frames]
    return torch.from_numpy((np.stack(out) - 0.5) / 0.5).permute(0, 3, 1, 2).float()


def spectrogram(wave: np.ndarray, real_time: float, extractor) -> torch.Tensor:
    """av_dataset: cut to the video's length, pad to >= 1 s, log-mel per 30 s slice."""
    sr = 16000
    if len(wave) < sr:
        wave = np.concatenate([wave, np.zeros(sr - len(wave))])
    wave = wave[:round(sr * real_time)]
    slices = [wave[k:k + 30 * sr] for k in range(0, len(wave), 30 * sr)]
    return torch.stack([torch.from_numpy(np.asarray(extractor(s, sampling_rate=sr, return_tensors="np")["input_features"][0]))
                        for s in slices]).float()


def time_token_ids(tokenizer, n: int, real_time: float) -> list[list[int]]:
    step = real_time / n
    return [tokenizer(str(round(step * k, 1)), add_special_tokens=False).input_ids for k in range(1, n + 1)]
