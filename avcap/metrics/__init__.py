"""Pure metric functions: inputs are counts, lists, strings; no I/O and no judge calls.

One implementation serves evaluation and training rewards alike (e.g. GRPO's R_C, R_D
and R_L reuse :mod:`checklist`, :mod:`dialogue` and :mod:`length`).

* :mod:`events`     — video-SALMONN 2 missing / hallucination / total error rates, median run
* :mod:`autodq`     — Tarsier2 / DREAM-1K AutoDQ precision, recall, F1
* :mod:`checklist`  — AVoCaDO checklist score (Eq. 3)
* :mod:`dialogue`   — AVoCaDO dialogue F1 with DP alignment (Eqs. 4-7)
* :mod:`length`     — AVoCaDO length-regularised reward (Eq. 8)
* :mod:`repetition` — repetition rate and repetition collapse (RepCol)
* :mod:`elo`        — sequential Elo and its shuffled-order bootstrap
* :mod:`qa`         — QA-by-caption letter parsing and accuracy
* :mod:`pairs`      — MrDPO pair selection (Table 6)
"""

from avcap.metrics._checks import MetricInputError
from avcap.metrics.autodq import autodq_aggregate, autodq_item, f1
from avcap.metrics.checklist import (
    CHECKLIST_DIMENSIONS,
    canonical_dimension,
    checklist_reward,
    checklist_score,
)
from avcap.metrics.dialogue import align_dialogues, content_similarity, dialogue_f1
from avcap.metrics.elo import elo_bootstrap, elo_ratings, expected_score
from avcap.metrics.events import EventCounts, item_error_rates, median_run, pooled_error_rates, run_summary
from avcap.metrics.length import length_reward
from avcap.metrics.pairs import TABLE6_THRESHOLDS, round_thresholds, select_pair
from avcap.metrics.qa import parse_choice, qa_accuracy
from avcap.metrics.repetition import (
    find_loop,
    is_repetition_collapse,
    repcol_rate,
    repetition_rate,
    tokenize_words,
)

__all__ = [
    "CHECKLIST_DIMENSIONS",
    "TABLE6_THRESHOLDS",
    "EventCounts",
    "MetricInputError",
    "align_dialogues",
    "autodq_aggregate",
    "autodq_item",
    "canonical_dimension",
    "checklist_reward",
    "checklist_score",
    "content_similarity",
    "dialogue_f1",
    "elo_bootstrap",
    "elo_ratings",
    "expected_score",
    "f1",
    "find_loop",
    "is_repetition_collapse",
    "item_error_rates",
    "length_reward",
    "median_run",
    "parse_choice",
    "pooled_error_rates",
    "qa_accuracy",
    "repcol_rate",
    "repetition_rate",
    "round_thresholds",
    "run_summary",
    "select_pair",
    "tokenize_words",
]
