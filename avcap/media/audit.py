"""The media half of a caption row's modality audit: what the file held and what sampling kept.

Engines have dropped a video's sound without a word (vLLM before its audio-in-video fix,
sglang-omni #708, a Whisper extractor cutting a 59-minute track to 300 s), so every caption row
records what the model actually received. This module reads a decoded :class:`Clip`; the model
half (tokens, the seconds of audio its processor kept) comes from the captioner's
``input_audit()`` and the two are merged by :func:`avcap.models.audit.row_audit`.
"""

from __future__ import annotations

import numpy as np

from avcap.media.clip import Clip


def clip_audit(clip: Clip, muted: bool = False) -> dict:
    """Facts about ``clip`` as decoded: stream, seconds, frames and what the policy cut.

    ``has_audio_stream``: the file (or the row's separate audio file) has sound.
    ``audio_seconds``: seconds of samples the clip carries (0 when the row turned audio off).
    ``audio_source_seconds``: the decoded length of the source track; more than the clip's
    duration means the track was cut to the video's length (``audio_cut_by_media``).
    ``frames_capped``: the policy's rate asked for more frames than its cap allows.
    ``pixels_reduced``: frames were down-scaled to the policy's pixel budget (resampled).
    """
    meta = clip.meta or {}
    audio_off = meta.get("audio") == "off"
    if clip.is_image:
        has_stream = False
    elif clip.audio_only or meta.get("audio_path"):
        has_stream = True
    else:
        has_stream = bool(meta.get("has_audio", clip.has_audio))
    samples = int(np.shape(clip.audio)[0]) if clip.audio is not None else 0
    audio_s = samples / clip.sample_rate_hz if clip.sample_rate_hz else 0.0
    source_s = float(meta.get("audio_source_s") or 0.0)
    sampling = meta.get("sampling") or {}
    uncapped = sampling.get("frames_uncapped")
    segment = meta.get("segment")
    # A track longer than the video is fitted to the video's clock (load_clip); a segment row
    # cuts on purpose, so only the part past the video's end counts as cut.
    video_s = float(meta.get("duration_s") or clip.duration_s) if not clip.audio_only else 0.0
    media_cut = bool(has_stream and not audio_off and not clip.audio_only and segment is None
                     and source_s > video_s + 0.05)
    return {
        "has_audio_stream": has_stream,
        "audio_off": audio_off,
        "muted": bool(muted),
        "audio_seconds": round(audio_s if not audio_off else 0.0, 3),
        "audio_source_seconds": round(source_s, 3),
        "video_seconds": round(clip.duration_s if clip.num_frames and not clip.is_image else 0.0, 3),
        "frames": clip.num_frames,
        "frames_capped": bool(uncapped is not None and uncapped > clip.num_frames),
        "pixels_reduced": bool(sampling and sampling.get("frame_pixels", 0) < sampling.get("source_pixels", 0)),
        "audio_cut_by_media": media_cut,
        "policy": clip.policy,
    }
