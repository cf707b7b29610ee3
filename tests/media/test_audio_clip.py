"""Audio-only clips: ``load_audio_clip`` on wav / flac / mp3 / m4a and a video's soundtrack, and its errors."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from avcap.errors import CorruptMediaError, EmptyMediaError, MissingMediaError, NotAVideoError
from avcap.media import load_audio_clip, load_clip

SR = 16_000
TONE_HZ = 440.0
AMPLITUDE = 0.3


def tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """int16 PCM with the standard library; ``samples`` is [S] (mono) or [S, C]."""
    data = np.atleast_2d(samples.T).T if samples.ndim == 1 else samples
    pcm = np.clip(np.round(data * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(data.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def write_encoded(path: Path, codec: str, samples: np.ndarray, rate: int, fmt: str | None = None) -> Path:
    """Mono ``samples`` encoded with PyAV (flac, aac in m4a, mp3), in 1024-sample frames."""
    import av

    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        sample_fmt = stream.codec_context.codec.audio_formats[0].name
        step = 1024
        for start in range(0, samples.shape[0], step):
            block = samples[start : start + step][None]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            frame = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate).resample(frame)[0]
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def peak_and_rms(audio: np.ndarray, start_s: float, end_s: float) -> tuple[float, float]:
    part = audio[int(start_s * SR) : int(end_s * SR)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.fft.rfftfreq(len(part), 1 / SR)[spectrum.argmax()]), float(np.sqrt(np.mean(part**2)))


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory) -> dict[str, tuple[Path, float]]:
    """name -> (file, seconds of tone in it): several containers, rates and layouts."""
    root = tmp_path_factory.mktemp("audio_files")
    stereo = np.stack([tone(2.0, 44_100), 0.5 * tone(2.0, 44_100)], axis=1)  # R = L / 2
    return {
        "wav_16k_mono": (write_wav(root / "a.wav", tone(1.5, SR), SR), 1.5),
        "wav_44k_stereo": (write_wav(root / "b.wav", stereo, 44_100), 2.0),
        "flac_48k": (write_encoded(root / "c.flac", "flac", tone(2.5, 48_000), 48_000), 2.5),
        "m4a_22k": (write_encoded(root / "d.m4a", "aac", tone(2.0, 22_050), 22_050, fmt="mp4"), 2.0),
        "mp3_44k": (write_encoded(root / "e.mp3", "libmp3lame", tone(2.0, 44_100), 44_100), 2.0),
    }


@pytest.mark.parametrize("name", ["wav_16k_mono", "wav_44k_stereo", "flac_48k", "m4a_22k", "mp3_44k"])
def test_audio_files_become_frameless_16k_mono_clips(audio_files, name):
    path, seconds = audio_files[name]
    clip = load_audio_clip(path)
    assert clip.frames.shape == (0, 0, 0, 3) and clip.frames.dtype == np.uint8
    assert clip.frame_times.shape == (0,) and clip.num_frames == 0 and clip.audio_only
    assert clip.has_audio and clip.sample_rate_hz == SR and clip.policy == "audio"
    assert clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert clip.duration_s == clip.audio.shape[0] / SR == clip.meta["audio_source_s"]
    # PCM and FLAC are exact; lossy codecs add at most a frame of priming / padding.
    tolerance = 1.0 / SR if name.startswith(("wav", "flac")) else 0.08
    assert clip.duration_s == pytest.approx(seconds, abs=tolerance)
    peak, rms = peak_and_rms(clip.audio, 0.2, seconds - 0.2)
    assert peak == pytest.approx(TONE_HZ, abs=3.0)
    # the down-mix is the channel mean: (1 + 0.5) / 2 of the left channel's amplitude
    gain = 0.75 if name == "wav_44k_stereo" else 1.0
    assert rms == pytest.approx(gain * AMPLITUDE / np.sqrt(2), rel=0.06)
    assert clip.meta["audio_codec"] and clip.meta["audio_rate_hz"] in (16_000, 22_050, 44_100, 48_000)
    assert clip.meta["has_video_stream"] is False


def test_16k_pcm_passes_through_unchanged(audio_files):
    path, _ = audio_files["wav_16k_mono"]
    clip = load_audio_clip(path)
    with wave.open(str(path), "rb") as src:
        pcm = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
    # no resampling at 16 kHz mono: s16 -> float is the exact division by 32768
    np.testing.assert_array_equal(clip.audio, pcm.astype(np.float32) / 32768)


def test_a_videos_soundtrack_matches_load_clip(av_video):
    audio_only = load_audio_clip(av_video)
    full = load_clip(av_video)
    assert audio_only.num_frames == 0 and audio_only.meta["has_video_stream"] is True
    assert audio_only.duration_s == pytest.approx(full.duration_s, abs=0.1)
    n = min(audio_only.audio.shape[0], full.audio.shape[0]) - SR // 10
    # one decode-and-resample path: the same samples (the video starts with its audio here)
    np.testing.assert_allclose(audio_only.audio[:n], full.audio[:n], atol=1e-6)


def test_load_clip_still_refuses_an_audio_file(audio_files):
    path, _ = audio_files["flac_48k"]
    with pytest.raises(NotAVideoError, match="no video stream"):
        load_clip(path)


@pytest.fixture(scope="module")
def bad_audio(tmp_path_factory, audio_files, silent_video) -> dict[str, Path]:
    from PIL import Image

    root = tmp_path_factory.mktemp("bad_audio")
    m4a = audio_files["m4a_22k"][0].read_bytes()
    files = {"missing": root / "missing.wav", "empty": root / "empty.wav", "text": root / "notes.wav",
             "directory": root / "folder.flac", "random_bytes": root / "random.mp3", "half_m4a": root / "half.m4a",
             "no_samples": root / "no_samples.wav", "image": root / "picture.png", "silent_video": silent_video}
    files["empty"].write_bytes(b"")
    files["text"].write_text("not audio\n" * 30)
    files["directory"].mkdir()
    files["random_bytes"].write_bytes(np.random.default_rng(1).bytes(20_000))
    # the moov box sits at the end of an m4a written in one pass: cutting it off loses the index
    files["half_m4a"].write_bytes(m4a[: len(m4a) // 2])
    write_wav(files["no_samples"], np.zeros(0, np.float32), SR)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(files["image"], format="PNG")
    return files


BAD = {
    "missing": (MissingMediaError, "file not found"),
    "empty": (EmptyMediaError, "file is empty (0 bytes)"),
    "text": (NotAVideoError, "text file, not an audio file"),
    "directory": (NotAVideoError, "is a directory"),
    "random_bytes": (CorruptMediaError, "not a readable media file"),
    "half_m4a": (CorruptMediaError, "MP4/MOV"),
    "no_samples": (EmptyMediaError, "audio stream holds no samples"),
    "image": (NotAVideoError, "still image (png), not an audio file"),
    "silent_video": (EmptyMediaError, "no audio stream (video only)"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_audio_input_is_one_media_error_line(bad_audio, kind):
    path = bad_audio[kind]
    error_type, cause = BAD[kind]
    with pytest.raises(error_type) as info:
        load_audio_clip(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and cause in message and "\n" not in message
