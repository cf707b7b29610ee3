"""Judge tasks: a prompt filled in for one item, plus the parser that types its answer.

The evaluation code builds tasks and hands them to ``avcap.judge.engine.Judge``; it never
sees messages or JSON. ``input_hash`` covers the whole rendered conversation, so any change
of input or wording is a different cache entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from avcap.judge import prompts as P
from avcap.judge import results as R
from avcap.judge.types import Message

T = TypeVar("T")

AUTODQ_MAX_EVENTS = 10  # Tarsier2 AutoDQ: at most 10 key events per description


@dataclass(frozen=True)
class JudgeTask(Generic[T]):
    prompt: P.PromptSpec
    messages: tuple[Message, ...]
    parse: Callable[[Any], T]  # JSON value -> typed result; raises AnswerError on a bad shape
    item: str  # names the item in error messages, e.g. "v001"
    # Per-call sampling a benchmark protocol pins (e.g. {"seed": 2025, "top_p": 0.1}); sent to
    # the backend with the messages and part of the input hash, so another seed is another answer.
    sampling: tuple[tuple[str, Any], ...] = ()
    input_hash: str = field(init=False)

    def __post_init__(self) -> None:
        canon = json.dumps(list(self.messages), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if self.sampling:  # tasks without sampling keep the hashes (and cache entries) they always had
            canon += json.dumps(sorted(self.sampling), separators=(",", ":"))
        object.__setattr__(self, "input_hash", hashlib.sha256(canon.encode("utf-8")).hexdigest())

    def with_sampling(self, **sampling: Any) -> JudgeTask[T]:
        """The same question with these sampling settings (``None`` values are left out)."""
        kept = tuple(sorted((k, v) for k, v in sampling.items() if v is not None))
        return JudgeTask(self.prompt, self.messages, self.parse, self.item, kept)

    @property
    def kind(self) -> str:
        return self.prompt.name


def _task(prompt: P.PromptSpec, item: str, parse: Callable[[Any], T], **values: str) -> JudgeTask[T]:
    return JudgeTask(prompt, tuple(prompt.render(**values)), parse, item)


def salmonn2_events(item: str, reference: str) -> JudgeTask[R.EventList]:
    """Atomic events of a ground-truth caption (video-SALMONN 2 §3.3.1)."""
    return _task(P.SALMONN2_EVENTS, item, R.parse_event_list, description=reference)


def salmonn2_judgment(item: str, caption: str, events: list[str]) -> JudgeTask[R.EventJudgment]:
    """Missing / incorrect / hallucinated events of a caption (video-SALMONN 2 Appendix F)."""
    return _task(
        P.SALMONN2_JUDGE, item, partial(R.parse_event_judgment, events=list(events)),
        events=P.numbered(events), caption=caption,
    )


def autodq_events(item: str, description: str) -> JudgeTask[R.EventList]:
    return _task(P.AUTODQ_EVENTS, item, partial(R.parse_event_list, max_events=AUTODQ_MAX_EVENTS), description=description)


def autodq_entailment(item: str, description: str, events: list[str]) -> JudgeTask[R.Entailments]:
    return _task(
        P.AUTODQ_ENTAIL, item, partial(R.parse_entailments, n_events=len(events)),
        description=description, events=P.numbered(events),
    )


def checklist_keypoints(item: str, reference: str) -> JudgeTask[R.Keypoints]:
    return _task(P.CHECKLIST_KEYPOINTS, item, R.parse_keypoints, description=reference)


def checklist_judgment(item: str, caption: str, keypoints: list[str]) -> JudgeTask[R.KeypointHits]:
    return _task(
        P.CHECKLIST_JUDGE, item, partial(R.parse_keypoint_hits, keypoints=list(keypoints)),
        keypoints=P.numbered(keypoints), caption=caption,
    )


def dialogue_extraction(item: str, text: str) -> JudgeTask[R.Dialogue]:
    return _task(P.DIALOGUE_EXTRACT, item, R.parse_dialogue, description=text)


def speaker_consistency(
    item: str, reference: str, caption: str, pairs: list[tuple[tuple[str, str], tuple[str, str]]]
) -> JudgeTask[R.SpeakerVerdicts]:
    """``pairs``: ((ref speaker, ref utterance), (caption speaker, caption utterance)) per aligned line."""
    lines = [
        f'reference speaker: {rs} | caption speaker: {cs} | line: "{ru}" / "{cu}"'
        for (rs, ru), (cs, cu) in pairs
    ]
    return _task(
        P.DIALOGUE_SPEAKERS, item, partial(R.parse_speaker_verdicts, n_pairs=len(pairs)),
        reference=reference, caption=caption, pairs=P.numbered(lines),
    )


def qa_answer(item: str, caption: str, question: str, options: list[tuple[str, str]]) -> JudgeTask[R.QAAnswer]:
    """``options``: (letter, text) pairs, shown as ``A. text``."""
    shown = "\n".join(f"{letter}. {' '.join(text.split())}" for letter, text in options)
    return _task(P.QA_ANSWER, item, R.parse_qa_answer, caption=caption, question=question, options=shown)


def salmonn2_fallback(item: str, caption: str, events: list[str]) -> JudgeTask[R.EventJudgment]:
    """The simpler question the video-SALMONN 2 protocol asks after its retries fail (avcap's wording)."""
    return _task(
        P.SALMONN2_JUDGE_FALLBACK, item, partial(R.parse_event_judgment, events=list(events)),
        events=P.numbered(events), caption=caption,
    )


def ugc_score(item: str, caption: str, reference: str) -> JudgeTask[R.UGCScores]:
    return _task(P.UGC_SCORE, item, R.parse_ugc_scores, caption=caption, reference=reference)


def vdc_answer(item: str, caption: str, question: str) -> JudgeTask[R.VDCAnswer]:
    return _task(P.VDC_ANSWER, item, R.parse_vdc_answer, caption=caption, question=question)


def vdc_match(item: str, question: str, answer: str, prediction: str) -> JudgeTask[R.VDCMatch]:
    return _task(P.VDC_MATCH, item, R.parse_vdc_match, question=question, answer=answer, prediction=prediction)


def fuse_captions(item: str, visual: str, audio: str) -> JudgeTask[R.FusedCaption]:
    """AVoCaDO §3.1: one temporally ordered audio-visual caption from a visual and an audio caption."""
    return _task(P.FUSE_CAPTIONS, item, R.parse_fused_caption, visual=visual, audio=audio)


def fusion_score(item: str, visual: str, audio: str, fused: str) -> JudgeTask[R.FusionScore]:
    """AVoCaDO §3.1's completeness check of a fused caption, 1-5."""
    return _task(P.FUSE_SCORE, item, R.parse_fusion_score, visual=visual, audio=audio, fused=fused)
