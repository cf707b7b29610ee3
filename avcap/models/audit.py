"""A caption row's modality audit: the media facts (:func:`avcap.media.audit.clip_audit`) merged
with what the captioner's processor fed the model (``Captioner.input_audit``).

Row field ``"audit"`` (both engines)::

    {"has_audio_stream", "audio_seconds_fed", "video_seconds_fed", "frames", "audio_tokens",
     "visual_tokens", "frames_capped", "pixels_reduced", "audio_cut", "truncated", "resampled",
     "no_audio_fed", "silence_fed", "visual_only_model", "audio_off", "muted", "policy"}

``truncated``: part of the input was dropped (frame cap, or audio cut by the media layer or the
processor); ``resampled``: frames were down-scaled to a pixel budget; ``no_audio_fed``: the file
had sound but the model got none, and no one asked for that (not ``use_audio: false``, not a
visual-only model -- those are recorded as ``audio_off`` / ``visual_only_model``).
"""

from __future__ import annotations

AUDIT_FLAGS = ("no_audio_fed", "truncated", "frames_capped", "audio_cut", "resampled", "visual_only_model")


def model_audit(captioner, count: int) -> list[dict]:
    """The captioner's ``input_audit()`` for the last ``count`` clips ({} each if it keeps none)."""
    fn = getattr(captioner, "input_audit", None)
    audits = list(fn() or []) if fn is not None else []
    if len(audits) != count:
        return [{} for _ in range(count)]
    return audits


def row_audit(media: dict, model: dict, hears_audio: bool = True) -> dict:
    """One row's audit from its clip's ``clip_audit`` and the model's ``input_audit`` entry.

    ``hears_audio`` False: a visual-only family (Qwen-VL, Tarsier2, visual VideoLLaMA 2).
    """
    audio_tokens = model.get("audio_tokens")
    fed_s = model.get("audio_seconds_fed")
    if fed_s is None:  # a captioner that keeps no audit: it was handed the clip's samples
        fed_s = media.get("audio_seconds", 0.0) if hears_audio else 0.0
    if audio_tokens == 0:
        fed_s = 0.0
    audio_cut = bool(media.get("audio_cut_by_media") or model.get("audio_cut"))
    wanted_audio = media.get("has_audio_stream") and not media.get("audio_off")
    audit = {
        "has_audio_stream": bool(media.get("has_audio_stream")),
        "audio_seconds_fed": round(float(fed_s), 3),
        "video_seconds_fed": media.get("video_seconds", 0.0),
        "frames": media.get("frames", 0),
        "audio_tokens": audio_tokens,
        "visual_tokens": model.get("visual_tokens"),
        "frames_capped": bool(media.get("frames_capped")),
        "pixels_reduced": bool(media.get("pixels_reduced")),
        "audio_cut": audio_cut,
        "truncated": bool(media.get("frames_capped")) or audio_cut,
        "resampled": bool(media.get("pixels_reduced")),
        "no_audio_fed": bool(wanted_audio and hears_audio and fed_s <= 0),
        # No sound in the file, but the model still got audio tokens (of zeros), as its release does.
        "silence_fed": bool(not media.get("has_audio_stream") and not media.get("audio_off") and fed_s > 0),
        "visual_only_model": not hears_audio,
        "audio_off": bool(media.get("audio_off")),
        "muted": bool(media.get("muted")),
        "policy": media.get("policy"),
    }
    return audit


def hears_audio(captioner) -> bool:
    """Whether the family takes audio at all (visual-only families are not warned about)."""
    explicit = getattr(captioner, "hears_audio", None)
    if explicit is not None:
        return bool(explicit)
    return getattr(captioner, "family", "") not in ("vl",)


def audit_warnings(rows: list[dict]) -> list[str]:
    """One line per problem kind over a run's new rows (ids listed, at most 5 each)."""
    lines = []
    kinds = (("no_audio_fed", "fed no audio although the file has sound"),
             ("frames_capped", "lost frames to the policy's frame cap"),
             ("audio_cut", "had audio cut (only part of the track was fed)"))
    for flag, what in kinds:
        ids = sorted({str(r["id"]) for r in rows if (r.get("audit") or {}).get(flag)})
        if ids:
            shown = ", ".join(ids[:5]) + (f", ... (+{len(ids) - 5})" if len(ids) > 5 else "")
            lines.append(f"{len(ids)} video(s) {what}: {shown}")
    return lines
