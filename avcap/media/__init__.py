"""Media layer: decode videos with PyAV into :class:`Clip` objects under a sampling policy.

``load_clip(path, policy)`` decodes only the frames the policy picks plus 16 kHz mono audio;
``load_audio_clip(path)`` decodes an audio file (or a video's soundtrack) into a frameless clip;
``load_image_clip(path)`` reads a still image; ``load_media(...)`` picks one from a row's fields;
``probe(path, policy)`` reports what would be sampled without decoding; ``get_policy(name)``
selects a policy by the names ``--frames`` accepts (salmonn2, salmonn2-plus, omni,
omni-paper, qwen-vl, tarsier2, videollama2). Heavy work happens in the functions, nothing at import.
"""

from avcap.media.audio import whisper_chunks
from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, WHISPER_CHUNK_S, Clip
from avcap.media.corrupt import CORRUPTIONS, corrupt_frame_times
from avcap.media.info import ProbeReport, probe
from avcap.media.load import load_audio_clip, load_clip, load_image_clip, load_media
from avcap.media.policies import POLICIES, SamplingPlan, SamplingPolicy, get_policy
from avcap.media.sampling import salmonn2_frame_times

__all__ = [
    "AUDIO_SAMPLE_RATE_HZ",
    "CORRUPTIONS",
    "POLICIES",
    "WHISPER_CHUNK_S",
    "Clip",
    "ProbeReport",
    "SamplingPlan",
    "SamplingPolicy",
    "corrupt_frame_times",
    "get_policy",
    "load_audio_clip",
    "load_clip",
    "load_image_clip",
    "load_media",
    "probe",
    "salmonn2_frame_times",
    "whisper_chunks",
]
