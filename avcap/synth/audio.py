"""The 16 kHz sound track of a script: tones, beeps, noise bursts, bangs and (optionally) spoken words.

Each sound starts on the exact sample of its event's frame (``frame / fps * 16000``), so a
bang lines up with the frame on which two shapes touch. Spoken words come from espeak-ng
(Debian package ``espeak-ng``) when it is installed; scripts drawn without speech never need it.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable

import numpy as np

from avcap.errors import ConfigError, MediaError
from avcap.synth import lexicon as lx
from avcap.synth.world import Script

SAMPLE_RATE_HZ = 16_000
ESPEAK = "espeak-ng"
FADE_S = 0.01  # raised-cosine edges: no clicks, so onsets are the event's own


def _fade(x: np.ndarray, fade_s: float = FADE_S) -> np.ndarray:
    n = min(len(x) // 2, int(fade_s * SAMPLE_RATE_HZ))
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float64))
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE_HZ))


def tone(freq_hz: float, duration_s: float, amplitude: float = 0.35) -> np.ndarray:
    t = np.arange(_samples(duration_s)) / SAMPLE_RATE_HZ
    return _fade(amplitude * np.sin(2 * np.pi * freq_hz * t))


def beeps(count: int, amplitude: float = 0.3) -> np.ndarray:
    """``count`` short beeps at BEEP_HZ separated by silences (the count is heard as on/off pulses)."""
    on = tone(lx.BEEP_HZ, lx.BEEP_ON_S, amplitude)
    off = np.zeros(_samples(lx.BEEP_OFF_S))
    parts = []
    for i in range(count):
        parts.append(on)
        if i < count - 1:
            parts.append(off)
    return np.concatenate(parts)


def noise_burst(duration_s: float, rng: np.random.Generator, amplitude: float = 0.2) -> np.ndarray:
    return _fade(amplitude * rng.standard_normal(_samples(duration_s)))


def bang(rng: np.random.Generator, amplitude: float = 0.6) -> np.ndarray:
    """An impact: a low thump plus a noise crack, both decaying fast from the first sample."""
    t = np.arange(_samples(lx.BANG_S)) / SAMPLE_RATE_HZ
    x = (np.sin(2 * np.pi * 150.0 * t) + 0.8 * rng.standard_normal(t.size)) * np.exp(-t / 0.04)
    x *= amplitude / np.max(np.abs(x))
    x[-_samples(FADE_S):] *= np.linspace(1.0, 0.0, _samples(FADE_S))
    return x


# --- speech -------------------------------------------------------------------------------------

def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


@functools.lru_cache(maxsize=1)
def espeak_version() -> str | None:
    """E.g. ``"eSpeak NG text-to-speech: 1.51 ..."``; None when espeak-ng is not installed."""
    if not espeak_available():
        return None
    result = subprocess.run([ESPEAK, "--version"], capture_output=True, text=True, timeout=30)
    return result.stdout.strip().split("  Data at:")[0] or None


def _parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """PCM16 mono from espeak-ng's streamed WAV (its header sizes are placeholders, so no ``wave``)."""
    if data[:4] != b"RIFF" or b"data" not in data[:512]:
        raise MediaError(ESPEAK, "did not return WAV data")
    rate = int.from_bytes(data[24:28], "little")
    start = data.index(b"data", 12) + 8
    pcm = np.frombuffer(data[start:start + (len(data) - start) // 2 * 2], dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    """To 16 kHz with FFmpeg's resampler (PyAV), not a hand-made filter."""
    import av

    if rate == SAMPLE_RATE_HZ:
        return x
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, :]), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
    out = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]) if out else np.zeros(0, np.float32)


@functools.lru_cache(maxsize=64)
def espeak_word(word: str) -> np.ndarray:
    """``word`` spoken by espeak-ng (en-us), 16 kHz, silence trimmed, peak 0.5, at most one speech slot."""
    if not espeak_available():
        raise ConfigError(f"speech needs {ESPEAK}: install it (apt-get install espeak-ng) or use --no-speech")
    try:
        result = subprocess.run([ESPEAK, "-v", "en-us", "-s", "160", "--stdout", word],
                                capture_output=True, check=True, timeout=30)
    except (subprocess.SubprocessError, OSError) as err:
        raise MediaError(ESPEAK, f"failed to speak {word!r}: {err}") from err
    x, rate = _parse_wav(result.stdout)
    x = _resample(x, rate)
    loud = np.flatnonzero(np.abs(x) > 0.02 * max(float(np.max(np.abs(x))), 1e-9))
    if loud.size == 0:
        raise MediaError(ESPEAK, f"returned silence for {word!r}")
    x = x[loud[0]:loud[-1] + 1][: _samples(lx.SPEECH_SLOT_S)].astype(np.float64)
    return _fade(0.5 * x / np.max(np.abs(x))).astype(np.float32)


# --- the track ----------------------------------------------------------------------------------

def render_audio(script: Script, speak: Callable[[str], np.ndarray] | None = None) -> np.ndarray:
    """float32 mono [round(duration_s * 16000)] with every sound event of ``script`` in place.

    ``speak(word)`` voices ``say`` events (default: espeak-ng); tests may pass a stand-in.
    """
    n = _samples(script.duration_s)
    track = np.zeros(n, dtype=np.float64)
    for index, event in enumerate(script.events):
        a = event.args
        if event.kind == "tone":
            wave = tone(lx.PITCHES_HZ[str(a["pitch"])], float(a["duration_s"]))
        elif event.kind == "beep":
            wave = beeps(int(a["count"]))
        elif event.kind == "noise":
            wave = noise_burst(float(a["duration_s"]), np.random.default_rng([*script.seed, 1000 + index]))
        elif event.kind == "bang":
            wave = bang(np.random.default_rng([*script.seed, 1000 + index]))
        elif event.kind == "say":
            if script.speech is None and speak is None:
                raise ConfigError("script has spoken words but no speech engine (speech is null)")
            wave = (speak or espeak_word)(str(a["word"]))
        else:
            continue
        start = int(round(event.frame / script.fps * SAMPLE_RATE_HZ))
        stop = min(n, start + len(wave))
        track[start:stop] += wave[: stop - start]
    return np.clip(track, -1.0, 1.0).astype(np.float32)
