"""Audio: Whisper chunking (pure) and decoding any track to 16 kHz mono aligned with the video."""

from fractions import Fraction

import numpy as np
import pytest

from avcap.media import load_clip, whisper_chunks
from avcap.media.audio import fit_to_length, num_whisper_chunks

SR = 16_000


@pytest.mark.parametrize(
    ("seconds", "chunks"),
    [(0.0, 1), (0.5, 1), (30.0, 1), (30.0 + 1 / SR, 2), (61.0, 3), (90.0, 3)],
)
def test_whisper_chunks_count_and_padding(seconds, chunks):
    n = int(round(seconds * SR))
    audio = np.arange(1, n + 1, dtype=np.float32)
    out = whisper_chunks(audio)
    assert out.shape == (chunks, 30 * SR) and out.dtype == np.float32
    assert np.array_equal(out.reshape(-1)[:n], audio)  # in order, nothing lost
    assert not out.reshape(-1)[n:].any()  # zero padding only at the end
    assert num_whisper_chunks(seconds) == chunks


def test_whisper_chunks_other_window_and_bad_input():
    assert whisper_chunks(np.ones(5, np.float32), sample_rate_hz=2, chunk_s=2.0).shape == (2, 4)
    with pytest.raises(ValueError, match="mono"):
        whisper_chunks(np.zeros((2, 10), np.float32))


def test_fit_to_length_places_samples_on_the_timeline():
    x = np.array([1, 2, 3], np.float32)
    assert fit_to_length(x, 0, 5).tolist() == [1, 2, 3, 0, 0]
    assert fit_to_length(x, 2, 4).tolist() == [0, 0, 1, 2]  # starts late: leading zeros, tail cut
    assert fit_to_length(x, -1, 4).tolist() == [2, 3, 0, 0]  # starts early: head dropped
    assert fit_to_length(x, 9, 4).tolist() == [0, 0, 0, 0]
    assert fit_to_length(x, 0, 2).tolist() == [1, 2]  # on time and long enough: cut, not copied


def _tone_peak_and_rms(audio: np.ndarray, start_s: float, end_s: float) -> tuple[float, float]:
    part = audio[int(start_s * SR) : int(end_s * SR)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.fft.rfftfreq(len(part), 1 / SR)[spectrum.argmax()]), float(np.sqrt(np.mean(part**2)))


@pytest.mark.parametrize(
    ("fixture", "channel_mean"),
    [("av_video", 1.0), ("stereo48k_video", 0.85), ("mono8k_video", 1.0)],  # stereo: R = 0.7 L
)
def test_any_rate_and_layout_becomes_16k_mono(request, fixture, channel_mean):
    clip = load_clip(request.getfixturevalue(fixture))
    assert clip.has_audio and clip.sample_rate_hz == SR and clip.audio.dtype == np.float32
    assert clip.audio.shape == (int(round(clip.duration_s * SR)),)
    assert abs(clip.meta["audio_source_s"] - clip.duration_s) < 0.15  # the whole track was decoded
    peak, rms = _tone_peak_and_rms(clip.audio, 0.2, 1.8)  # the 440 Hz tone fills the first half
    assert peak == pytest.approx(440.0, abs=3.0)
    # sine of amplitude 0.3 -> rms 0.212; down-mix is the channel mean
    assert rms == pytest.approx(0.3 / np.sqrt(2) * channel_mean, rel=0.05)


def test_audio_lines_up_with_the_video_clock(stereo48k_video):
    # The tone stops at T/2 = 2.0 s; noise bursts start at 2.25 s (silence between).
    audio = load_clip(stereo48k_video).audio
    window = 80  # 5 ms
    rms = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    times = np.arange(len(rms)) * window / SR
    tone_end = times[(times < 2.15) & (rms > 0.05)].max()
    noise_start = times[(times > 2.1) & (rms > 0.05)].min()
    assert tone_end == pytest.approx(2.0, abs=0.03)
    assert noise_start == pytest.approx(2.25, abs=0.03)


def test_silent_video_gets_zeros_over_its_duration(silent_video):
    clip = load_clip(silent_video)
    assert not clip.has_audio and clip.audio.shape == (3 * SR,) and not clip.audio.any()
    assert whisper_chunks(clip.audio).shape == (1, 30 * SR)


def _write_wav(path, rate: int, tone_hz: float, seconds: float) -> None:
    import av

    t = np.arange(int(rate * seconds)) / rate
    samples = (0.25 * np.sin(2 * np.pi * tone_hz * t) * 32767).astype(np.int16)
    stereo = np.stack([samples, samples]).T.reshape(1, -1)  # s16 packed interleaved
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo), format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_separate_audio_file_overrides_the_track(tmp_path, silent_video, av_video):
    wav = tmp_path / "speech.wav"
    _write_wav(wav, 22_050, 1000.0, seconds=5.0)  # longer than either video: cut to the video
    for video in (silent_video, av_video):
        clip = load_clip(video, audio_path=wav)
        assert clip.has_audio and clip.audio.shape == (int(round(clip.duration_s * SR)),)
        peak, rms = _tone_peak_and_rms(clip.audio, 0.5, 2.5)
        assert peak == pytest.approx(1000.0, abs=3.0) and rms == pytest.approx(0.25 / np.sqrt(2), rel=0.05)
        assert clip.meta["audio_path"] == str(wav)


def test_separate_audio_file_errors_name_the_audio_file(tmp_path, av_video, silent_video):
    from avcap.errors import EmptyMediaError, MissingMediaError

    with pytest.raises(MissingMediaError, match="nope.wav: file not found"):
        load_clip(av_video, audio_path=tmp_path / "nope.wav")
    with pytest.raises(EmptyMediaError, match="no audio stream"):
        load_clip(av_video, audio_path=silent_video)
