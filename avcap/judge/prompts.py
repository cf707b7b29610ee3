"""The judge prompts, written for avcap from the papers' descriptions of each protocol.

Every prompt has a human version (bump it when the meaning changes) and a ``key`` that
also hashes the wording, so editing a prompt can never reuse judgments made with the old
text. The key is part of the cache key. Inputs are wrapped in tags (``<caption>`` ...) so
the judge can tell instructions from data, and so the offline heuristic judge
(``avcap.judge.heuristic``) can read them back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from string import Template

from avcap.judge.types import Message


@dataclass(frozen=True)
class PromptSpec:
    name: str
    version: str
    system: str
    user: str  # string.Template: $caption, $events, ... (captions may hold braces; $ is rare)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256((self.system + "\x00" + self.user).encode("utf-8")).hexdigest()[:10]
        object.__setattr__(self, "key", f"{self.name}/{self.version}/{digest}")

    def render(self, **values: str) -> list[Message]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": Template(self.user).substitute(**values)},
        ]


_JSON_ONLY = "Answer with one JSON object and nothing else."

# video-SALMONN 2, §3.3.1: ground-truth captions are first decomposed into atomic events.
SALMONN2_EVENTS = PromptSpec(
    name="salmonn2.events",
    version="v1",
    system=(
        "You split a detailed description of a video (picture and sound) into atomic events: the "
        "smallest statements of one thing that is seen or heard, listed in the order they happen. "
        "Cover visual actions, changes of scene, text shown on screen, speech (say who speaks and "
        "quote the words), music and other sounds. Write each event as one short, self-contained "
        "sentence: name the subject instead of using a pronoun, keep one happening per event, and "
        "add nothing the description does not say. " + _JSON_ONLY
    ),
    user=(
        "<description>\n$description\n</description>\n\n"
        'Reply as {"events": ["first event", "second event", ...]}.'
    ),
)

# video-SALMONN 2, §3.3.1 and Appendix F: missing / incorrect / hallucinated events.
SALMONN2_JUDGE = PromptSpec(
    name="salmonn2.judge",
    version="v1",
    system=(
        "You grade a video caption against the numbered ground-truth atomic events of the same "
        "video. Sort the errors into three kinds. Missing: a ground-truth event that the caption "
        "does not mention at all. Incorrect: a ground-truth event that the caption mentions but "
        "gets wrong (wrong subject, action, object, number, order, or wrong words for speech). "
        "Hallucinated: something the caption states that matches none of the ground-truth events. "
        "A ground-truth event is either missing, incorrect, or correctly described, never two of "
        "these. Refer to ground-truth events by their numbers; write each hallucinated event as "
        "one short sentence. " + _JSON_ONLY
    ),
    user=(
        "<events>\n$events\n</events>\n\n<caption>\n$caption\n</caption>\n\n"
        'Reply as {"missing": [event numbers], "incorrect": [event numbers], '
        '"hallucinated": ["short sentence", ...]}.'
    ),
)

# Tarsier2 / DREAM-1K AutoDQ: key events of a description (REFERENCE.md, "Event extraction").
AUTODQ_EVENTS = PromptSpec(
    name="autodq.events",
    version="v1",
    system=(
        "You list the key events of a video description: at most 10, in the order they happen. "
        "An event is an action or a change performed by someone or something; appearance, "
        "clothing, setting and other static facts are not events, and neither are camera "
        "movements or cuts between shots. Each event is atomic (one action), shorter than 10 "
        "words, written as subject-verb or subject-verb-object, with the subject named by a "
        "noun, not a pronoun. If the description has no events, reply with an empty list. " + _JSON_ONLY
    ),
    user='<description>\n$description\n</description>\n\nReply as {"events": ["event", ...]}.',
)

# Tarsier2 / DREAM-1K AutoDQ: entailment of each event by the other description.
AUTODQ_ENTAIL = PromptSpec(
    name="autodq.entail",
    version="v1",
    system=(
        "You check numbered events against a video description. For each event decide one label: "
        '"entailment" if the description states the event or clearly implies it, "contradiction" '
        'if the description states something incompatible with it, "neutral" if the description '
        "does not settle it either way. Judge every event, in order. " + _JSON_ONLY
    ),
    user=(
        "<description>\n$description\n</description>\n\n<events>\n$events\n</events>\n\n"
        'Reply as {"labels": [{"event": 1, "label": "entailment"}, ...]} with one entry per event.'
    ),
)

# AVoCaDO §3.2.2's five dimensions, spelled as the paper does (avcap.metrics.checklist
# canonicalises loose spellings to these).
CHECKLIST_DIMENSIONS = (
    "Static Entity Description",
    "Dynamic Action & Interaction",
    "Auditory Elements",
    "Spatio-temporal & Cinematography",
    "Cross-modal Narrative Logic",
)

# AVoCaDO §3.2.2: keypoints of the ground truth in five audiovisual dimensions.
CHECKLIST_KEYPOINTS = PromptSpec(
    name="checklist.keypoints",
    version="v1",
    system=(
        "You turn a detailed audio-visual video description into a checklist of keypoints. Each "
        "keypoint is one precise, atomic fact from the description; keypoints do not overlap and "
        "together cover the whole description. Give each keypoint one of five dimensions:\n"
        "- Static Entity Description: how people, animals, objects and places look and where "
        "they are;\n"
        "- Dynamic Action & Interaction: movements, events and interactions between them;\n"
        "- Auditory Elements: speech (who says what), music, and other sounds;\n"
        "- Spatio-temporal & Cinematography: scene setting and changes, the passing of time, "
        "shot transitions and camera work;\n"
        "- Cross-modal Narrative Logic: a sound and a visual event that explain or accompany "
        "each other at a stated moment (the link in time must be explicit).\n" + _JSON_ONLY
    ),
    user=(
        "<description>\n$description\n</description>\n\n"
        'Reply as {"keypoints": [{"dimension": "Auditory Elements", "text": "keypoint"}, ...]}.'
    ),
)

# AVoCaDO eq. 3: Judge(S_gen, k_i) in {0, 1} for each keypoint.
CHECKLIST_JUDGE = PromptSpec(
    name="checklist.judge",
    version="v1",
    system=(
        "You check which keypoints of a video a caption gets right. A keypoint counts only if the "
        "caption states it and states it correctly; a keypoint the caption leaves out or gets "
        "wrong does not count. Refer to keypoints by their numbers. " + _JSON_ONLY
    ),
    user=(
        "<keypoints>\n$keypoints\n</keypoints>\n\n<caption>\n$caption\n</caption>\n\n"
        'Reply as {"correct": [numbers of the keypoints the caption states correctly]}.'
    ),
)

# AVoCaDO §3.2.3: the dialogue as (speaker, utterance) pairs.
DIALOGUE_EXTRACT = PromptSpec(
    name="dialogue.extract",
    version="v1",
    system=(
        "You extract the spoken lines that a video description reports word for word (quoted "
        "speech), in the order they are spoken. For each line give the speaker as the description "
        "identifies them (for example 'a man in a blue shirt', 'the narrator') and the words "
        "exactly as written, without the quotation marks. Leave out speech whose words are not "
        "given. If there is none, reply with an empty list. " + _JSON_ONLY
    ),
    user=(
        "<description>\n$description\n</description>\n\n"
        'Reply as {"dialogue": [{"speaker": "who", "utterance": "what they say"}, ...]}.'
    ),
)

# AVoCaDO §3.2.3: speaker consistency (0/1) of each aligned pair. The paper's judge sees the
# video; a text judge decides from the two descriptions' wording instead.
DIALOGUE_SPEAKERS = PromptSpec(
    name="dialogue.speakers",
    version="v1",
    system=(
        "Two descriptions of the same video report the same spoken lines. For each numbered pair, "
        "decide whether the speaker named in the reference and the speaker named in the caption "
        "are the same person (or voice). Use both descriptions for context. " + _JSON_ONLY
    ),
    user=(
        "<reference>\n$reference\n</reference>\n\n<caption>\n$caption\n</caption>\n\n"
        "<pairs>\n$pairs\n</pairs>\n\n"
        'Reply as {"same": [true or false for each pair, in order]}.'
    ),
)

# AVoCaDO §4.2.2 / video-SALMONN 2 §4: answer from the caption alone, abstain when it cannot.
QA_ANSWER = PromptSpec(
    name="qa.answer",
    version="v1",
    system=(
        "You answer a multiple-choice question about a video using only a text caption of that "
        "video; you cannot see or hear the video. If the caption does not give enough information "
        'to choose an option, answer "N/A" rather than guessing. ' + _JSON_ONLY
    ),
    user=(
        "<caption>\n$caption\n</caption>\n\n<question>\n$question\n</question>\n\n"
        "<options>\n$options\n</options>\n\n"
        'Reply as {"answer": "the option letter"} or {"answer": "N/A"}.'
    ),
)

# video-SALMONN 2 test-set protocol: after its retries fail, an item is asked once more with a
# simpler fallback prompt. This is avcap's own fallback wording (the official one lives in the
# test set's script, which `avcap bench` reads at run time when the user has it).
SALMONN2_JUDGE_FALLBACK = PromptSpec(
    name="salmonn2.judge_fallback",
    version="v1",
    system=(
        "Compare a video caption with a numbered list of ground-truth events. List the numbers of "
        "the events the caption leaves out (missing), the numbers of the events it gets wrong "
        "(incorrect), and, as short sentences, what the caption says that is in no listed event "
        "(hallucinated). " + _JSON_ONLY
    ),
    user=(
        "<events>\n$events\n</events>\n\n<caption>\n$caption\n</caption>\n\n"
        'Reply as {"missing": [numbers], "incorrect": [numbers], "hallucinated": ["sentence", ...]}.'
    ),
)

# UGC-VideoCap (Wu et al. 2025): a judge grades a predicted description against the ground truth
# on three dimensions, an integer 1-5 each (the benchmark's eval_caption.py; avcap's wording).
UGC_SCORE = PromptSpec(
    name="ugc.score",
    version="v1",
    system=(
        "You grade a predicted description of a short user-generated video against the ground-truth "
        "description of the same video, on three dimensions, each an integer from 1 to 5:\n"
        "- visual: scene and background, people and objects, their actions and interactions, and "
        "on-screen text, stated accurately and completely;\n"
        "- audio: speech, music and sound effects and their emotional tone;\n"
        "- details: completeness, coherence, the video's theme and purpose, and how well sound and "
        "picture are tied together.\n"
        "1: mostly irrelevant or wrong, most key information missing or hallucinated. 2: a few "
        "elements right, the rest vague, wrong or missing. 3: most elements right but generic, with "
        "gaps or small errors. 4: nearly complete and accurate, small omissions only. 5: complete, "
        "precise and nuanced, as an expert would write it. " + _JSON_ONLY
    ),
    user=(
        "<prediction>\n$caption\n</prediction>\n\n<reference>\n$reference\n</reference>\n\n"
        'Reply as {"visual": 1-5, "audio": 1-5, "details": 1-5}.'
    ),
)

# VDC / VDCscore (AuroraCap, Chai et al. 2024), step 1: answer a ground-truth question from the
# predicted caption alone, briefly.
VDC_ANSWER = PromptSpec(
    name="vdc.answer",
    version="v1",
    system=(
        "You answer a question about a video using only a detailed text description of it. Read the "
        "description, answer from it alone, and keep the answer to a short phrase or sentence. " + _JSON_ONLY
    ),
    user=(
        "<description>\n$caption\n</description>\n\n<question>\n$question\n</question>\n\n"
        'Reply as {"answer": "short answer"}.'
    ),
)

# VDCscore step 2: does the predicted answer match the correct one in meaning (yes/no, 0-5)?
VDC_MATCH = PromptSpec(
    name="vdc.match",
    version="v1",
    system=(
        "You check a predicted answer against the correct answer to a question about a video. Judge "
        "whether they match in meaning; synonyms and paraphrases count as a match. Give a verdict, "
        '"yes" or "no", and an integer score from 0 to 5, where 5 is a full match in meaning. ' + _JSON_ONLY
    ),
    user=(
        "<question>\n$question\n</question>\n\n<correct>\n$answer\n</correct>\n\n"
        "<predicted>\n$prediction\n</predicted>\n\n"
        'Reply as {"pred": "yes" or "no", "score": 0-5}.'
    ),
)

# AVoCaDO §3.1 (Fig. 2, App. G.1 Fig. 12): a visual caption and an audio caption of the same clip
# fused into one audio-visual caption, events of both streams ordered by when they happen.
FUSE_CAPTIONS = PromptSpec(
    name="avocado.fuse",
    version="v1",
    system=(
        "You merge two descriptions of the same video into one. The visual description tells what "
        "is seen (people, objects, actions, on-screen text, scene changes, camera work); the audio "
        "description tells what is heard (speech with its speaker and words, music, other sounds). "
        "Write one detailed audio-visual description that keeps every fact of both, places each "
        "sound at the moment of the picture it goes with, and tells the events in the order they "
        "happen. Quote speech word for word and say who speaks. Do not drop, soften or invent "
        "anything, and do not mention the two source descriptions. " + _JSON_ONLY
    ),
    user=(
        "<visual>\n$visual\n</visual>\n\n<audio>\n$audio\n</audio>\n\n"
        'Reply as {"caption": "the fused description"}.'
    ),
)

# AVoCaDO §3.1's quality check: completeness of the fused caption against the two inputs, 1-5;
# the paper keeps samples scoring 4 or more.
FUSE_SCORE = PromptSpec(
    name="avocado.fuse_score",
    version="v1",
    system=(
        "You check a merged audio-visual video description against the visual description and "
        "the audio description it was written from. Rate its completeness from 1 to 5: 5 = every "
        "fact of both sources is kept and correctly placed in time; 4 = only minor details lost; "
        "3 = some facts lost or misplaced; 2 = much lost or wrong; 1 = most content lost, or facts "
        "invented. " + _JSON_ONLY
    ),
    user=(
        "<visual>\n$visual\n</visual>\n\n<audio>\n$audio\n</audio>\n\n<fused>\n$fused\n</fused>\n\n"
        'Reply as {"score": 1 to 5, "reason": "one sentence"}.'
    ),
)

ALL_PROMPTS: tuple[PromptSpec, ...] = (
    SALMONN2_EVENTS, SALMONN2_JUDGE, AUTODQ_EVENTS, AUTODQ_ENTAIL, CHECKLIST_KEYPOINTS,
    CHECKLIST_JUDGE, DIALOGUE_EXTRACT, DIALOGUE_SPEAKERS, QA_ANSWER,
    SALMONN2_JUDGE_FALLBACK, UGC_SCORE, VDC_ANSWER, VDC_MATCH, FUSE_CAPTIONS, FUSE_SCORE,
)


def identify(messages: list[Message]) -> PromptSpec | None:
    """The prompt a conversation was built from (by its system message), or None."""
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    return next((p for p in ALL_PROMPTS if p.system == system), None)


def numbered(lines: list[str]) -> str:
    """``1. first\\n2. second`` — the judge refers back to items by these numbers."""
    return "\n".join(f"{i}. {' '.join(str(line).split())}" for i, line in enumerate(lines, 1))
