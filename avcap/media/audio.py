"""Audio: decode any track to 16 kHz mono float32 with PyAV, fit it to the clip, cut Whisper chunks.

Decoding streams into a :class:`~avcap.media.track.TrackWriter` (long tracks go to a temporary
file), and chunks are cut a batch at a time, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, WHISPER_CHUNK_S
from avcap.media.track import TrackWriter, read_window


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


def decode_mono_16k(container, stream, make_writer: Callable[[float | None], TrackWriter]) -> tuple[TrackWriter, float | None]:
    """Decode ``stream`` to 16 kHz mono float32 with PyAV's ``AudioResampler`` (libswresample).

    Samples stream into the :class:`TrackWriter` that ``make_writer(first_time)`` returns, where
    ``first_time`` is the time (s) of the first decoded frame, so the caller can line the track up
    with the video before any sample is placed; no full-length copy is ever held. (Resampled
    blocks wait in memory only while no frame has had a timestamp yet.) Returns the writer and
    ``first_time``. Other streams are discarded at the demuxer.
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
    out = _Placer(make_writer)
    # Decoded frames are small (1024 samples for AAC); resampling them in ~1 s batches through a
    # FIFO halves the time of resampling frame by frame, with identical output.
    fifo = av.AudioFifo()
    for packet in container.demux(stream):
        for frame in packet.decode():
            if out.first_time is None and frame.pts is not None:
                out.first_time = float(frame.pts * frame.time_base)
            frame.pts = None  # the FIFO checks timestamp continuity; the track is placed by first_time
            fifo.write(frame)
            if fifo.samples >= frame.sample_rate:
                out.resample(resampler, fifo.read())
    if fifo.samples:
        out.resample(resampler, fifo.read())
    out.resample(resampler, None)
    return out.finish(), out.first_time


class _Placer:
    """Hands resampled blocks to the writer once the track's first timestamp is known."""

    def __init__(self, make_writer):
        self.make_writer, self.first_time = make_writer, None
        self.writer, self.pending = None, []

    def resample(self, resampler, frame) -> None:
        for out in resampler.resample(frame):
            block = out.to_ndarray().reshape(-1)
            if self.writer is None and self.first_time is not None:
                self._open()
            if self.writer is None:
                self.pending.append(block)
            else:
                self.writer.write(block)

    def _open(self) -> None:
        self.writer = self.make_writer(self.first_time)
        for block in self.pending:
            self.writer.write(block)
        self.pending = []

    def finish(self) -> TrackWriter:
        if self.writer is None:
            self._open()
        return self.writer


def iter_whisper_chunks(audio: np.ndarray, chunks_per_batch: int, sample_rate_hz: int = AUDIO_SAMPLE_RATE_HZ,
                        chunk_s: float = WHISPER_CHUNK_S):
    """``whisper_chunks(audio)`` as consecutive ``[<= chunks_per_batch, chunk_samples]`` blocks.

    Equal to slicing the full ``[C, chunk_samples]`` array, but only one block is held at a time,
    and a spilled track (:mod:`avcap.media.track`) is read window by window.
    """
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono with shape [samples], got shape {audio.shape}")
    if chunks_per_batch < 1:
        raise ValueError("chunks_per_batch must be >= 1")
    chunk = int(round(sample_rate_hz * chunk_s))
    total = audio.shape[0]
    count = max(1, math.ceil(total / chunk))
    for first in range(0, count, chunks_per_batch):
        k = min(chunks_per_batch, count - first)
        block = np.zeros((k, chunk), dtype=np.float32)
        lo, hi = first * chunk, min(total, (first + k) * chunk)
        if hi > lo:
            block.reshape(-1)[: hi - lo] = read_window(audio, lo, hi)
        yield block
