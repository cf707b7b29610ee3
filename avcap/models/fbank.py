"""Kaldi-compatible log-mel filterbank features in torch (what BEATs and VideoLLaMA 2 feed it).

The release computes ``torchaudio.compliance.kaldi.fbank(wave * 2**15, num_mel_bins=128,
sample_frequency=16000, frame_length=25, frame_shift=10)`` with its defaults: no dither,
DC offset removed per frame, pre-emphasis 0.97, Povey window, FFT padded to a power of two,
power spectrum, Kaldi mel scale ``1127 ln(1 + f / 700)`` from 20 Hz to Nyquist, log floored at
float32 epsilon, ``snip_edges`` (only whole frames). Written here because torchaudio cannot be
installed beside avcap's pinned torch; tests compare it with kaldi-native-fbank.
"""

from __future__ import annotations

import functools
import math

import torch

_EPSILON = torch.finfo(torch.float32).eps


def mel_scale(freq):
    """Kaldi's mel scale (``MelBanks::MelScale``)."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * torch.log1p(freq / 700.0)
    return 1127.0 * math.log1p(freq / 700.0)


@functools.lru_cache(maxsize=8)
def mel_banks(num_bins: int, padded_window: int, sample_rate_hz: float, low_freq: float = 20.0,
              high_freq: float = 0.0) -> torch.Tensor:
    """Triangular mel filters [num_bins, padded_window // 2 + 1] (the Nyquist column is zero, as in Kaldi).

    Cached (one clip's fbank would otherwise rebuild them); treat the returned tensor as read-only.
    """
    nyquist = 0.5 * sample_rate_hz
    if high_freq <= 0.0:
        high_freq += nyquist
    if not 0.0 <= low_freq < high_freq <= nyquist:
        raise ValueError(f"need 0 <= low_freq < high_freq <= Nyquist, got {low_freq}, {high_freq}")
    num_fft_bins = padded_window // 2
    mel_low, mel_high = mel_scale(low_freq), mel_scale(high_freq)
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = torch.arange(num_bins, dtype=torch.float64).unsqueeze(1)
    left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
    mel = mel_scale(sample_rate_hz / padded_window * torch.arange(num_fft_bins, dtype=torch.float64)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).to(torch.float32)


def kaldi_fbank(waveform: torch.Tensor, num_mel_bins: int = 128, sample_rate_hz: int = 16000,
                frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0, preemphasis: float = 0.97,
                low_freq: float = 20.0, high_freq: float = 0.0) -> torch.Tensor:
    """Log mel filterbank energies [frames, num_mel_bins] of a mono waveform [samples] (float32).

    ``frames = 1 + (samples - window) // shift`` (0 when the waveform is shorter than a window).
    Scale the waveform as the caller's reference does (the release multiplies by 2**15).
    """
    if waveform.dim() != 1:
        raise ValueError(f"waveform must be mono [samples], got shape {tuple(waveform.shape)}")
    wave = waveform.to(torch.float32)
    window = int(sample_rate_hz * frame_length_ms * 0.001)
    shift = int(sample_rate_hz * frame_shift_ms * 0.001)
    padded = 1 << (window - 1).bit_length()  # round_to_power_of_two
    if wave.numel() < window:
        return wave.new_zeros((0, num_mel_bins))
    frames = wave.unfold(0, window, shift)  # [F, window], snip_edges
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove_dc_offset
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)  # x[-1] = x[0], as Kaldi
    frames = frames - preemphasis * previous
    povey = torch.hann_window(window, periodic=False, dtype=torch.float32, device=wave.device).pow(0.85)
    frames = torch.nn.functional.pad(frames * povey, (0, padded - window))
    power = torch.fft.rfft(frames).abs().pow(2)  # [F, padded/2 + 1]
    banks = mel_banks(num_mel_bins, padded, sample_rate_hz, low_freq, high_freq).to(wave.device)
    energies = power @ banks.T
    return torch.clamp(energies, min=_EPSILON).log()
