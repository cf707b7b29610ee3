"""avcap.models.fbank against kaldi-native-fbank and a float64 per-frame re-derivation of Kaldi's recipe."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avcap.models.fbank import kaldi_fbank, mel_banks


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3100 * t * (1 + t)) + 0.05 * rng.standard_normal(t.size)
    return (x * 32768).astype(np.float32)  # the release scales by 2**15


@pytest.mark.parametrize("bins", [23, 80, 120])
def test_matches_kaldi_native_fbank(bins):
    import kaldi_native_fbank as knf  # dev dependency (pyproject [dev])

    wave = _wave(2.0123)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = 16000
    opts.mel_opts.num_bins = bins
    online = knf.OnlineFbank(opts)
    online.accept_waveform(16000, wave.tolist())
    online.input_finished()
    reference = np.stack([online.get_frame(i) for i in range(online.num_frames_ready)])
    ours = kaldi_fbank(torch.from_numpy(wave), num_mel_bins=bins).numpy()
    assert ours.shape == reference.shape == (1 + (wave.size - 400) // 160, bins)
    np.testing.assert_allclose(ours, reference, atol=2e-3, rtol=0)


def _naive_fbank(wave: np.ndarray, bins: int = 128) -> np.ndarray:
    """Kaldi's FeatureWindowFunction / ComputePowerSpectrum / MelBanks, one frame at a time in float64."""
    window, shift, fft = 400, 160, 512
    povey = np.array([(0.5 - 0.5 * math.cos(2 * math.pi * i / (window - 1))) ** 0.85 for i in range(window)])
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    delta = (hi - lo) / (bins + 1)
    filt = np.zeros((bins, fft // 2 + 1))
    for b in range(bins):
        left, center, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
        for k in range(fft // 2):
            m = mel(16000.0 * k / fft)
            if left < m < right:
                filt[b, k] = (m - left) / (center - left) if m <= center else (right - m) / (right - center)
    out = []
    for f in range(1 + (len(wave) - window) // shift):
        frame = wave[f * shift:f * shift + window].astype(np.float64)
        frame = frame - frame.mean()
        frame = np.concatenate([[frame[0] - 0.97 * frame[0]], frame[1:] - 0.97 * frame[:-1]])
        spectrum = np.abs(np.fft.rfft(np.pad(frame * povey, (0, fft - window)))) ** 2
        out.append(np.log(np.maximum(filt @ spectrum, np.finfo(np.float32).eps)))
    return np.array(out)


def test_128_bins_match_a_per_frame_float64_reference():
    # kaldi-native-fbank refuses 128 bins at a 512-point FFT (a low filter holds no FFT bin);
    # torchaudio, which the release calls, allows it: that empty filter gives log(eps).
    wave = _wave(0.5, seed=1)
    ours = kaldi_fbank(torch.from_numpy(wave)).numpy()
    reference = _naive_fbank(wave)
    assert ours.shape == reference.shape == (48, 128)
    np.testing.assert_allclose(ours, reference, atol=2e-3, rtol=0)
    empty = np.flatnonzero((mel_banks(128, 512, 16000) > 0).sum(1) == 0)
    assert empty.tolist() == [3] and np.allclose(ours[:, 3], math.log(np.finfo(np.float32).eps))


def test_thirty_seconds_give_the_releases_2998_frames_and_short_input_none():
    assert kaldi_fbank(torch.zeros(30 * 16000)).shape == (2998, 128)
    assert kaldi_fbank(torch.zeros(399)).shape == (0, 128)
    with pytest.raises(ValueError, match="mono"):
        kaldi_fbank(torch.zeros(2, 400))
