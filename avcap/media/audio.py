"""Audio: decode any track to 16 kHz mono float32 with PyAV, fit it to the clip, cut Whisper chunks."""

from __future__ import annotations

import math

import numpy as np

from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, WHISPER_CHUNK_S


def whisper_chunks(audio: np.ndarray, sample_rate_hz: int = AUDIO_SAMPLE_RATE_HZ, chunk_s: float = WHISPER_CHUNK_S) -> np.ndarray:
    """Cut a mono waveform into ``[C, chunk_samples]`` windows for the Whisper encoder.

    C = ceil(T / chunk_s), at least 1 (an empty waveform gives one silent chunk); the last chunk
    is zero-padded (video-SALMONN 2 §3.1: l = ⌈T / t_max⌉ segments of t_max seconds).

    >>> whisper_chunks(np.ones(5, np.float32), sample_rate_hz=2, chunk_s=2.0).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono with shape [samples], got shape {audio.shape}")
    if sample_rate_hz <= 0 or chunk_s <= 0:
        raise ValueError("sample_rate_hz and chunk_s must be > 0")
    chunk = int(round(sample_rate_hz * chunk_s))
    count = max(1, math.ceil(audio.shape[0] / chunk))
    out = np.zeros((count, chunk), dtype=np.float32)
    out.reshape(-1)[: audio.shape[0]] = audio
    return out


def num_whisper_chunks(duration_s: float, chunk_s: float = WHISPER_CHUNK_S) -> int:
    """Chunk count ``whisper_chunks`` gives for a clip of ``duration_s`` (probe reports it undecoded)."""
    samples = round(duration_s * AUDIO_SAMPLE_RATE_HZ)
    return max(1, math.ceil(samples / round(chunk_s * AUDIO_SAMPLE_RATE_HZ)))


def fit_to_length(samples: np.ndarray, offset: int, length: int) -> np.ndarray:
    """Place ``samples`` starting at sample ``offset`` (negative drops the head) in ``length`` zeros.

    When the track already starts on time and is long enough, this returns a view of it instead
    of a copy, so an hour of audio is not held twice.
    """
    if offset == 0 and len(samples) >= length and samples.dtype == np.float32:
        return samples[:length]
    out = np.zeros(length, dtype=np.float32)
    src = samples[max(0, -offset) :]
    start = max(0, offset)
    take = max(0, min(len(src), length - start))
    out[start : start + take] = src[:take]
    return out


class _Buffer:
    """Append-only float32 buffer that grows in place, so a long track is not held twice."""

    def __init__(self, capacity: int):
        self.data = np.zeros(max(capacity, 1024), dtype=np.float32)
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        end = self.size + block.shape[0]
        if end > self.data.shape[0]:
            self.data = np.resize(self.data, max(end, int(self.data.shape[0] * 1.5)))
        self.data[self.size : end] = block
        self.size = end

    def view(self) -> np.ndarray:
        return self.data[: self.size]


def decode_mono_16k(container, stream, expected_s: float) -> tuple[np.ndarray, float | None]:
    """Decode ``stream`` to 16 kHz mono float32 with PyAV's ``AudioResampler`` (libswresample).

    Returns the samples and the time (s) of the first decoded frame, so the caller can line the
    track up with the video. Other streams are discarded at the demuxer.
    """
    import av
    from av.stream import Discard

    for other in container.streams:
        if other.index != stream.index:
            other.discard = Discard.all  # the demuxer drops other streams' packets unread
    # rematrix_maxval=1 normalises the down-mix to the channel mean ((L+R)/2), as Whisper's own
    # loader (ffmpeg -ac 1 to s16) and librosa do; swr's float default would be (L+R)/sqrt(2).
    resampler = av.AudioResampler(
        format="flt", layout="mono", rate=AUDIO_SAMPLE_RATE_HZ, options={"rematrix_maxval": "1.0"}
    )
    buf = _Buffer(int(expected_s * AUDIO_SAMPLE_RATE_HZ * 1.05) + AUDIO_SAMPLE_RATE_HZ)
    # Decoded frames are small (1024 samples for AAC); resampling them in ~1 s batches through a
    # FIFO halves the time of resampling frame by frame, with identical output.
    fifo = av.AudioFifo()
    first_time = None
    for packet in container.demux(stream):
        for frame in packet.decode():
            if first_time is None and frame.pts is not None:
                first_time = float(frame.pts * frame.time_base)
            frame.pts = None  # the FIFO checks timestamp continuity; the track is placed by first_time
            fifo.write(frame)
            if fifo.samples >= frame.sample_rate:
                _resample_into(buf, resampler, fifo.read())
    if fifo.samples:
        _resample_into(buf, resampler, fifo.read())
    _resample_into(buf, resampler, None)
    return buf.view(), first_time


def _resample_into(buf: _Buffer, resampler, frame) -> None:
    for out in resampler.resample(frame):
        buf.append(out.to_ndarray().reshape(-1))
