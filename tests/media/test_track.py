"""Long audio in bounded memory: tracks spill to an unlinked temp file, reads release their pages,
decoding and chunking never hold the whole waveform, and short clips come out bit-identical."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avcap.media import load_audio_clip, load_clip, track, whisper_chunks
from avcap.media.audio import fit_to_length, iter_whisper_chunks
from avcap.media.track import SPILL_DIR_ENV, TrackWriter, read_window

SR = 16_000


def _write(writer: TrackWriter, samples: np.ndarray, cuts=(1, 1000, 1001, 4096)) -> np.ndarray:
    for block in np.split(samples, list(cuts)):  # uneven blocks, one of a single sample
        writer.write(block)
    return writer.finish()


@pytest.mark.parametrize("spill", [False, True])
@pytest.mark.parametrize("offset,length", [(0, 5000), (0, 2000), (700, 5000), (-900, 5000), (6000, 5000),
                                           (-7000, 5000), (0, 9000), (-1, 1)])
def test_writer_places_samples_like_fit_to_length(spill, offset, length):
    samples = np.random.default_rng(0).standard_normal(6500).astype(np.float32)
    writer = TrackWriter(length, offset, spill_over=0 if spill else 10**9)
    out = _write(writer, samples)
    assert isinstance(out, np.memmap) == spill and out.dtype == np.float32 and out.flags.writeable
    np.testing.assert_array_equal(out, fit_to_length(samples, offset, length))
    assert writer.total == 6500


@pytest.mark.parametrize("spill_over", [0, 3000, 10**9])  # on disk from the start, from mid-way, never
def test_writer_without_length_keeps_every_sample(spill_over):
    samples = np.random.default_rng(1).standard_normal(6500).astype(np.float32)
    out = _write(TrackWriter(None, spill_over=spill_over), samples)
    assert isinstance(out, np.memmap) == (spill_over < 6500)
    np.testing.assert_array_equal(out, samples)
    assert TrackWriter(None, spill_over=0).finish().shape == (0,)  # nothing decoded: an empty track


def test_spilled_track_leaves_no_file_and_stays_writable(tmp_path, monkeypatch):
    monkeypatch.setenv(SPILL_DIR_ENV, str(tmp_path))
    out = _write(TrackWriter(8000, 0, spill_over=0), np.ones(6500, np.float32))
    assert isinstance(out, np.memmap) and list(tmp_path.iterdir()) == []  # unlinked: gone with the array
    out[:10] = 2.0  # callers may edit a clip's audio in place, as with a plain array
    assert read_window(out, 0, 12).tolist() == [2.0] * 10 + [1.0] * 2
    assert out[6499] == 1.0 and out[6500:].sum() == 0.0


def test_a_full_disk_is_one_line_naming_the_folder_and_the_setting(tmp_path, monkeypatch):
    class Full:
        def __init__(self, *args, **kwargs):
            pass

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        truncate = seek = write

    monkeypatch.setenv(SPILL_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(track.tempfile, "TemporaryFile", Full)
    with pytest.raises(OSError, match=f"in {tmp_path} .*{SPILL_DIR_ENV}.*No space left on device"):
        TrackWriter(None, spill_over=0).write(np.ones(10, np.float32))
    with pytest.raises(OSError, match=SPILL_DIR_ENV):
        TrackWriter(100, spill_over=0)


def _resident_mapped_mb() -> float:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return sum(int(fields.get(k, "0 kB").split()[0]) for k in ("RssFile", "RssShmem")) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux /proc")
def test_reading_a_spilled_track_window_by_window_keeps_it_out_of_memory():
    n, step = 16 << 20, 1 << 20  # 64 MB of samples
    writer = TrackWriter(n, 0, spill_over=0)
    for start in range(0, n, step):
        writer.write(np.arange(start, start + step, dtype=np.float32))
    audio = writer.finish()
    before = _resident_mapped_mb()
    total = sum(float(read_window(audio, start, start + step)[-1]) for start in range(0, n, step))
    windowed = _resident_mapped_mb() - before
    assert total == sum(float(start + step - 1) for start in range(0, n, step))  # the data is all there
    assert float(np.asarray(audio).sum(dtype=np.float64)) > 0  # touching it whole maps it whole...
    touched = _resident_mapped_mb() - before
    assert touched > 48, f"the measure should see the mapped track ({touched:.1f} MB)"
    assert windowed < 8, f"window reads left {windowed:.1f} MB of the 64 MB track resident"


@pytest.mark.parametrize("seconds", [0.0, 0.5, 30.0, 61.0, 125.3])
def test_chunk_batches_equal_whisper_chunks(seconds):
    audio = np.random.default_rng(2).standard_normal(int(seconds * SR)).astype(np.float32)
    spilled = _write(TrackWriter(None, spill_over=0), audio, cuts=())
    for source in (audio, spilled):
        for per_batch in (1, 2, 8):
            blocks = list(iter_whisper_chunks(source, per_batch))
            assert all(b.shape[0] <= per_batch and b.dtype == np.float32 for b in blocks)
            np.testing.assert_array_equal(np.concatenate(blocks), whisper_chunks(audio))


def test_spilled_clips_equal_in_memory_clips(media, av_video, stereo48k_video, silent_video, monkeypatch):
    """A track on disk holds exactly the samples the in-memory path gives (both clocks, both loaders)."""
    offset_audio = media.video("late_audio", duration_s=3.0, fps=10, width=64, height=48, tone_hz=300.0)
    cases = [lambda: load_clip(av_video), lambda: load_clip(stereo48k_video), lambda: load_clip(silent_video),
             lambda: load_clip(av_video, audio_path=offset_audio), lambda: load_audio_clip(stereo48k_video)]
    in_memory = [case() for case in cases]
    monkeypatch.setattr(track, "SPILL_MIN_S", 0.0)
    for case, ref in zip(cases, in_memory):
        clip = case()
        assert isinstance(clip.audio, np.memmap) == ref.has_audio
        assert clip.audio.dtype == np.float32 and clip.audio.shape == ref.audio.shape
        np.testing.assert_array_equal(clip.audio, ref.audio)
        assert clip.meta["audio_source_s"] == ref.meta["audio_source_s"] and clip.has_audio == ref.has_audio
        muted = clip.muted()
        assert type(muted.audio) is np.ndarray and muted.audio.shape == ref.audio.shape and not muted.audio.any()


def _reference_audio(path, length: int) -> np.ndarray:
    """The loader before streaming: decode the whole track, resample it, then fit it to the video."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        video_start = float(container.streams.video[0].start_time * container.streams.video[0].time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SR, options={"rematrix_maxval": "1.0"})
        fifo, parts, first = av.AudioFifo(), [], None
        for frame in container.decode(stream):
            first = float(frame.pts * frame.time_base) if first is None else first
            frame.pts = None
            fifo.write(frame)
        for out in [*resampler.resample(fifo.read()), *resampler.resample(None)]:
            parts.append(out.to_ndarray().reshape(-1))
    return fit_to_length(np.concatenate(parts), int(round((first - video_start) * SR)), length)


def test_streamed_audio_equals_whole_track_decoding(av_video, stereo48k_video):
    for path in (av_video, stereo48k_video):
        clip = load_clip(path)
        np.testing.assert_array_equal(clip.audio, _reference_audio(path, clip.audio.shape[0]))


_MEMORY_PROBE = """
import json, sys, tracemalloc
from avcap.media import load_clip, track
from avcap.media.audio import iter_whisper_chunks
track.SPILL_MIN_S = 10.0
peaks = {}
for name in sys.argv[1:]:
    tracemalloc.start()
    clip = load_clip(name, "salmonn2", frame_times=[0.5, 1.5])  # same frames: only the audio differs
    chunks = sum(block.shape[0] for block in iter_whisper_chunks(clip.audio, 1))
    peaks[name] = {"peak": tracemalloc.get_traced_memory()[1], "audio_bytes": clip.audio.nbytes, "chunks": chunks}
    tracemalloc.stop()
    del clip
print(json.dumps(peaks))
"""


def test_decoding_a_long_file_peaks_like_a_short_one(media):
    """Traced allocations of decode + chunking: a 120 s file within 1.5x of a 15 s one (its
    waveform is 8x bigger), and what it adds is a small fraction of the extra waveform."""
    short = media.video("mem_short", duration_s=15.0, fps=2, width=32, height=32)
    long = media.video("mem_long", duration_s=120.0, fps=2, width=32, height=32)
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(short), str(long)],
                         capture_output=True, text=True, check=True)
    peaks = json.loads(out.stdout.strip().splitlines()[-1])
    s, lo = peaks[str(short)], peaks[str(long)]
    assert (s["chunks"], lo["chunks"]) == (1, 4)
    assert lo["peak"] < 1.5 * s["peak"], peaks
    # Holding the waveform once would add its 6.7 MB growth; the loader held it twice before.
    assert lo["peak"] - s["peak"] < 0.25 * (lo["audio_bytes"] - s["audio_bytes"]), peaks
