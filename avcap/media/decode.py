"""Decode only the frames a plan asks for: seek to the keyframe before each time, decode forward.

Frames are matched by presentation timestamp, so variable-frame-rate videos map times
correctly. For each target time t we return the frame on screen at t: the last frame whose
timestamp is <= t (the first frame if t precedes it). Only the sampled frames are kept, already
converted and resized, so memory is bounded by the output, whatever the length of the video.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from avcap.errors import CorruptMediaError, UnsupportedCodecError
from avcap.media.info import MediaInfo, ffmpeg_cause
from avcap.media.policies import SamplingPlan

# Without a keyframe index, seek when the next target is further ahead than this; nearer
# targets are cheaper to reach by decoding forward than by re-decoding from a keyframe.
FALLBACK_SEEK_GAP_S = 2.0
# A target this far past the last decodable frame means the stream ends early (truncated).
END_TOLERANCE_S = 1.0
# Non-reference frames shown more than this before the next target are skipped, not decoded.
# (Also at least 4 frame periods. A VFR frame held on screen longer than this, that is also a
# non-reference frame, could be skipped; the clip then reports the earlier frame's true time.)
SKIP_MARGIN_S = 0.25


def keyframe_times(stream) -> list[float] | None:
    """Sorted keyframe times (s) from the container index (mp4 sample table, mkv cues), if any."""
    try:
        entries = stream.index_entries
        count = len(entries)
    except (AttributeError, TypeError):
        return None
    if count < 2:
        return None
    tb = float(stream.time_base)
    # AVINDEX_KEYFRAME = 1. Timestamps are decode times; with B-frames they trail presentation
    # times by a frame or two, which only makes the seek decision slightly conservative.
    times = sorted(e.timestamp * tb for e in entries if e.flags & 1)
    return times or None


def convert_frame(frame, rotation: int, plan: SamplingPlan, reformatter=None) -> np.ndarray:
    """One decoded frame -> uint8 RGB [H, W, 3]: resized, turned upright, padded per the plan.

    Pass one ``av.video.reformatter.VideoReformatter`` for all frames of a video: it keeps its
    swscale context, where ``frame.to_ndarray(width=...)`` builds a new one per frame (~25x slower).
    """
    if reformatter is None:
        from av.video.reformatter import VideoReformatter

        reformatter = VideoReformatter()
    turns = round(rotation / 90) % 4
    ch, cw = plan.content_height, plan.content_width
    # Resize in stored orientation (swscale, bicubic like the Qwen/SigLIP processors), then
    # rotate: the upright size is (ch, cw).
    dec_h, dec_w = (cw, ch) if turns % 2 else (ch, cw)
    rgb = reformatter.reformat(frame, width=dec_w, height=dec_h, format="rgb24", interpolation="BICUBIC")
    arr = rgb.to_ndarray()
    if turns:
        # VideoFrame.rotation is counter-clockwise; np.rot90 with k > 0 turns counter-clockwise.
        arr = np.rot90(arr, k=turns)
    if plan.pad_value is None:
        return np.ascontiguousarray(arr)
    out = np.full((plan.height, plan.width, 3), plan.pad_value, dtype=np.uint8)
    top, left = (plan.height - ch) // 2, (plan.width - cw) // 2
    out[top : top + ch, left : left + cw] = arr
    return out


class _Cursor:
    """Walks the video forward frame by frame; ``seek`` restarts it at the keyframe before t.

    Frames are held as (frame, time) pairs; a frame without a timestamp (raw streams) is given
    the previous one's time plus one frame period.
    """

    def __init__(self, container, stream, path, fps: float):
        self.container, self.stream, self.path = container, stream, path
        self.tb = float(stream.time_base)
        self.period = 1.0 / fps
        self.ctx = stream.codec_context
        self.skip_before = -math.inf  # packets shown before this time may skip non-reference frames
        self.skip_margin = max(SKIP_MARGIN_S, 4 * self.period)
        self._skip_mode = "DEFAULT"
        self._frames = None
        self.last = None  # newest (frame, time) with time <= the current target
        self.pending = None  # a decoded (frame, time) past the current target, not yet consumed
        self.eof = False
        self.seeks = 0
        self.decoded = 0

    def seek(self, t: float) -> None:
        self.container.seek(max(0, math.floor(t / self.tb)), stream=self.stream, backward=True, any_frame=False)
        self.seeks += 1
        self._frames = self._decode()
        self.last = self.pending = None
        self.eof = False

    def _decode(self):
        import av

        prev = None
        try:
            for packet in self.container.demux(self.stream):
                self._set_skip(packet)
                for frame in packet.decode():
                    self.decoded += 1
                    t = float(frame.time) if frame.pts is not None else (prev + self.period if prev is not None else 0.0)
                    prev = t
                    yield frame, t
        except av.error.DecoderNotFoundError as err:
            raise UnsupportedCodecError(self.path, f"unsupported video codec ({ffmpeg_cause(err)})") from err
        except av.error.EOFError:
            return
        except av.error.FFmpegError as err:
            where = f" after {self.position:.2f} s" if self.position is not None else ""
            raise CorruptMediaError(self.path, f"corrupt video data{where} ({ffmpeg_cause(err)})") from err
        finally:
            self._skip("DEFAULT")

    def _set_skip(self, packet) -> None:
        # A non-reference frame (most B-frames) that is shown well before the next target can
        # never be the frame on screen at it, and no other frame depends on it: don't decode it.
        far = packet.pts is not None and packet.pts * self.tb < self.skip_before
        self._skip("NONREF" if far else "DEFAULT")

    def _skip(self, mode: str) -> None:
        if self.ctx is not None and self._skip_mode != mode:
            self.ctx.skip_frame = mode
            self._skip_mode = mode

    @property
    def position(self) -> float | None:
        held = self.pending or self.last
        return None if held is None else held[1]

    def advance_to(self, t: float, eps: float):
        """Decode forward until the next frame is past ``t``; return the (frame, time) on screen at t."""
        if self._frames is None:
            self._frames = self._decode()
        self.skip_before = t - self.skip_margin
        while True:
            if self.pending is not None:
                if self.pending[1] <= t + eps:
                    self.last, self.pending = self.pending, None
                else:
                    break
            if self.eof:
                break
            held = next(self._frames, None)
            if held is None:
                self.eof = True
            else:
                self.pending = held
        return self.last if self.last is not None else self.pending


def decode_frames(container, stream, info: MediaInfo, plan: SamplingPlan, path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Frames [N, H, W, 3] uint8, their actual timestamps [N] (s, from the first frame), and
    decoding counts (seeks, frames decoded) that show how much of the video was touched."""
    times = [float(t) for t in plan.frame_times]
    wanted = sorted(set(times))
    keyframes = keyframe_times(stream)
    eps = min(1e-3, 0.1 / info.fps)
    cursor = _Cursor(container, stream, path, info.fps)
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    # Each converted frame goes straight to its output slot(s): holding them apart first would
    # keep two copies of every frame at the peak (500 MB for Qwen-VL's 768 frames at min_pixels).
    slots: dict[float, list[int]] = {}
    for i, t in enumerate(times):
        slots.setdefault(t, []).append(i)
    frames = np.empty((len(times), plan.height, plan.width, 3), dtype=np.uint8)
    actual_times = np.empty(len(times), dtype=np.float64)
    for t in wanted:
        target = info.start_s + t
        pos = cursor.position
        if pos is None or _should_seek(target, pos, keyframes):
            cursor.seek(target)
        held = cursor.advance_to(target, eps)
        back = 1.0
        while cursor.last is None and held is not None and held[1] > target + eps and t > eps and back <= 64:
            # The seek landed after the target (an imprecise index): step back further and retry.
            cursor.seek(max(info.start_s, target - back))
            held = cursor.advance_to(target, eps)
            back *= 4
        if held is None:
            raise CorruptMediaError(path, f"no decodable video frame at {t:.2f} s of {info.duration_s:.2f} s (truncated?)")
        frame, frame_t = held
        actual = frame_t - info.start_s
        if cursor.eof and t - actual > max(END_TOLERANCE_S, 2.0 / info.fps):
            raise CorruptMediaError(
                path, f"video stream ends at {actual:.2f} s, before the declared {info.duration_s:.2f} s (truncated?)"
            )
        converted = convert_frame(frame, info.rotation, plan, reformatter)
        for i in slots[t]:
            frames[i], actual_times[i] = converted, actual
    stats = {"seeks": cursor.seeks, "frames_decoded": cursor.decoded}
    return frames, actual_times, stats


def _should_seek(target: float, pos: float, keyframes: list[float] | None) -> bool:
    """Seek only if a keyframe lies between where the decoder is and the target."""
    if target <= pos:
        return False  # the frame on screen at target is the one we hold (or just before it)
    if keyframes is None:
        return target - pos > FALLBACK_SEEK_GAP_S
    i = bisect.bisect_right(keyframes, target) - 1
    return i >= 0 and keyframes[i] > pos
