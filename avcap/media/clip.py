"""The decoded unit every model consumes: sampled frames, their times, and 16 kHz mono audio."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

AUDIO_SAMPLE_RATE_HZ = 16_000
WHISPER_CHUNK_S = 30.0


@dataclass
class Clip:
    """A video as a model sees it.

    frames:      uint8 RGB, shape [N, H, W, 3], already resized by the sampling policy; an
                 audio-only clip (``load_audio_clip``) has N = 0 and shape [0, 0, 0, 3].
    frame_times: seconds from the start of the video, shape [N], increasing; kept so audio
                 and visual tokens can be interleaved by time (video-SALMONN 2 eqs. 4-6).
                 (Frames loaded at explicit times, e.g. a Tarsier2 corruption, keep the order
                 and repeats they were asked for.)
    audio:       float32 mono at ``sample_rate_hz`` (16 kHz), shape [S]; zeros covering the
                 duration when the video has no audio stream (``has_audio`` is then False).
                 A track longer than 5 min is an ``np.memmap`` over a temporary file
                 (:mod:`avcap.media.track`): still a writable float32 ndarray; read it with
                 ``track.read_window`` to keep memory flat in the track's length.
    duration_s:  length of the video (of the audio, for an audio-only clip) in seconds.
    meta:        source facts (codec, fps, width, height, rotation, audio rate/channels, ...).
    """

    path: str
    frames: np.ndarray
    frame_times: np.ndarray
    audio: np.ndarray
    duration_s: float
    has_audio: bool
    sample_rate_hz: int = AUDIO_SAMPLE_RATE_HZ
    policy: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def audio_only(self) -> bool:
        """No frames: the clip is a sound (an ASR or audio-caption row), not a video."""
        return self.num_frames == 0

    @property
    def is_image(self) -> bool:
        """A still image (``load_image_clip``): one frame, no audio, no duration."""
        return bool(self.meta.get("image"))

    def muted(self) -> Clip:
        """The same clip with its sound replaced by silence of the same length and rate.

        A plain array even for a long (spilled) track: ``np.zeros`` pages stay unbacked until written.
        """
        return replace(self, audio=np.zeros(np.shape(self.audio), dtype=getattr(self.audio, "dtype", np.float32)))
