"""Where a decoded soundtrack lives: in memory when short, in an unlinked temporary file when long.

Two hours of 16 kHz float32 audio is 460 MB; holding it (and its copies) in RAM made peak memory
grow with the length of the video. A track longer than ``SPILL_MIN_S`` is written sequentially
to an anonymous temporary file (already unlinked: it vanishes with the last reference to the
array) and handed out as a writable ``np.memmap`` over it, so ``Clip.audio`` is still a real
float32 ndarray for every caller. Reading it through :func:`read_window` copies a window and
then drops those pages from the process (``madvise(MADV_DONTNEED)``; the data stays in the
file's page cache), so a pass over the whole track keeps only one window resident.

The file goes to ``$AVCAP_AUDIO_SPILL_DIR`` if set, else the system temporary folder
(``$TMPDIR``); it needs 64 KB of disk per second of audio (230 MB per hour).
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ

# Tracks longer than this are spilled to disk: 5 min is 19 MB in memory, a flat cost.
SPILL_MIN_S = 300.0
SPILL_DIR_ENV = "AVCAP_AUDIO_SPILL_DIR"
_PAGE = mmap.PAGESIZE
_ITEM = np.dtype(np.float32).itemsize


def spill_min_samples() -> int:
    return int(round(SPILL_MIN_S * AUDIO_SAMPLE_RATE_HZ))


def _spill_folder() -> str:
    return os.environ.get(SPILL_DIR_ENV) or tempfile.gettempdir()


def _spill_error(err: OSError) -> OSError:
    return OSError(f"cannot keep long audio in a temporary file in {_spill_folder()} "
                   f"(free space there, or set ${SPILL_DIR_ENV}): {err.strerror or err}")


def _spill_file():
    try:
        return tempfile.TemporaryFile(dir=_spill_folder())
    except OSError as err:
        raise _spill_error(err) from None


def _map(file, length: int) -> np.ndarray:
    """The first ``length`` float32 samples of ``file`` as a writable memmap (the map keeps the file)."""
    file.flush()
    arr = np.memmap(file, dtype=np.float32, mode="r+", shape=(length,))
    file.close()  # the map holds its own descriptor; the unlinked file lives as long as the array
    return arr


class TrackWriter:
    """Samples appended in order -> a float32 track, placed on a timeline.

    ``length=None`` keeps every sample (an audio file: the clip lasts as long as its sound);
    otherwise the result has exactly ``length`` samples: the first appended sample lands at
    ``offset`` (a negative offset drops the head), the tail is cut or zero-padded, as
    ``fit_to_length`` does. ``total`` counts every sample appended, placed or not.
    """

    def __init__(self, length: int | None, offset: int = 0, spill_over: int | None = None):
        self.length, self.offset = length, offset
        self.spill_over = spill_min_samples() if spill_over is None else spill_over
        self.total = 0
        self._file = None
        self._mem = None  # preallocated output (known length) or growable buffer (length=None)
        self._size = 0  # samples held in the buffer (length=None)
        if length is not None:
            if length > self.spill_over:
                self._file = _spill_file()
                try:
                    self._file.truncate(length * _ITEM)  # sparse zeros: the padding costs nothing
                except OSError as err:
                    raise _spill_error(err) from None
            else:
                self._mem = np.zeros(length, dtype=np.float32)
        else:
            self._mem = np.zeros(1 << 16, dtype=np.float32)

    def write(self, block: np.ndarray) -> None:
        try:
            self._write(np.asarray(block, dtype=np.float32).reshape(-1))
        except OSError as err:  # a full disk: one line that says where, not a bare errno
            raise _spill_error(err) from None

    def _write(self, block: np.ndarray) -> None:
        pos, self.total = self.offset + self.total, self.total + block.shape[0]
        if self.length is None:
            self._append(block)
            return
        lo, hi = max(pos, 0), min(pos + block.shape[0], self.length)
        if hi <= lo:
            return
        part = block[lo - pos : hi - pos]
        if self._file is None:
            self._mem[lo:hi] = part
        else:
            self._file.seek(lo * _ITEM)
            self._file.write(part.tobytes())

    def _append(self, block: np.ndarray) -> None:
        if self._file is not None:
            self._file.write(block.tobytes())
            return
        end = self._size + block.shape[0]
        if end > self.spill_over:  # a long file: move what is held to disk and go on there
            self._file = _spill_file()
            self._file.write(self._mem[: self._size].tobytes())
            self._file.write(block.tobytes())
            self._mem = None
            return
        if end > self._mem.shape[0]:
            self._mem = np.resize(self._mem, max(end, int(self._mem.shape[0] * 1.5)))
        self._mem[self._size : end] = block
        self._size = end

    def finish(self) -> np.ndarray:
        """The track: a plain array, or a memmap over the temporary file."""
        if self._file is not None:
            n = self.length if self.length is not None else self.total
            if n == 0:
                self._file.close()
                return np.zeros(0, dtype=np.float32)
            try:
                return _map(self._file, n)
            except OSError as err:  # the last buffered write may only fail here
                raise _spill_error(err) from None
        if self.length is not None:
            return self._mem
        return self._mem[: self._size]


def _mapping(a: np.ndarray) -> mmap.mmap | None:
    base = a
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return base


def release(a: np.ndarray) -> None:
    """Drop the pages of ``a`` (a view of a spilled track) from this process; no-op otherwise.

    The track's file is mapped shared, so its up-to-date data (writes included) stays in the
    page cache and is read back on the next access: only resident memory changes.
    """
    mm = _mapping(a)
    if mm is None or a.size == 0 or not a.flags.c_contiguous or not hasattr(mm, "madvise"):
        return
    try:
        start = a.ctypes.data - np.frombuffer(mm, dtype=np.uint8).ctypes.data
    except (TypeError, ValueError, BufferError):  # a closed or read-only map: leave it be
        return
    lo = max(0, start // _PAGE * _PAGE)
    hi = min(len(mm), -(-(start + a.nbytes) // _PAGE) * _PAGE)
    if hi > lo:
        mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def read_window(audio: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``audio[start:stop]`` as a fresh float32 array; a spilled track's pages are released after."""
    view = audio[start:stop]
    out = np.array(view, dtype=np.float32)
    release(view)
    return out
