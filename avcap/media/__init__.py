"""Media layer: decode videos with PyAV into :class:`Clip` objects under a sampling policy."""

from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, WHISPER_CHUNK_S, Clip

__all__ = ["AUDIO_SAMPLE_RATE_HZ", "WHISPER_CHUNK_S", "Clip"]
