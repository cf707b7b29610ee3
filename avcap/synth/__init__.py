"""The synthetic audio-visual world: seeded event scripts, their videos, captions, QA, and an exact judge.

Shapes of six colours appear, move, collide (with a bang), change colour and disappear; words
are shown on screen; tones, beeps, noise bursts and (with espeak-ng) spoken words play. Every
video comes from a :class:`~avcap.synth.world.Script`, so its ground truth is exact:

    >>> from avcap.synth import sample_script, caption_from_script, judge_caption
    >>> script = sample_script((0, 1))
    >>> judge_caption(script, caption_from_script(script)).total_errors
    0

Modules: ``lexicon`` (the closed vocabulary), ``world`` (script types), ``sampler``
(``sample_script``), ``render`` / ``audio`` (mp4 with 16 kHz audio), ``language`` (captions,
atomic events), ``qa``, ``parse`` + ``symbolic`` (the judge), ``dataset`` (``avcap synth
dataset``), and ``sample`` (simple test clips). Rendering imports PyAV only when called.
"""

from avcap.synth.language import DEFAULT_PROMPT, atomic_events, caption_from_script, caption_vocabulary
from avcap.synth.sampler import sample_script
from avcap.synth.symbolic import SymbolicJudgment, judge_caption, judge_rows
from avcap.synth.world import Event, ObjectTrack, Script, WorldConfig

__all__ = [
    "DEFAULT_PROMPT", "Event", "ObjectTrack", "Script", "SymbolicJudgment", "WorldConfig", "atomic_events",
    "caption_from_script", "caption_vocabulary", "judge_caption", "judge_rows", "sample_script",
]
