"""AVoCaDO checklist score (Eq. 3) and its per-dimension breakdown."""

import numpy as np
import pytest

from avcap.metrics import MetricInputError
from avcap.metrics.checklist import (
    CHECKLIST_DIMENSIONS,
    canonical_dimension,
    checklist_reward,
    checklist_score,
)


def test_dimensions_transcribed_from_figure_13():
    assert CHECKLIST_DIMENSIONS == (
        "Static Entity Description",
        "Dynamic Action & Interaction",
        "Auditory Elements",
        "Spatio-temporal & Cinematography",
        "Cross-modal Narrative Logic",
    )


def test_reward_from_counts():
    """Eq. 3: 7 of 10 keypoints mentioned -> 0.7; all -> 1; none -> 0."""
    assert checklist_reward(7, 10) == pytest.approx(0.7)
    assert checklist_reward(10, 10) == 1.0
    assert checklist_reward(0, 10) == 0.0


def test_reward_rejects_impossible_counts():
    with pytest.raises(MetricInputError, match="no keypoints"):
        checklist_reward(0, 0)
    with pytest.raises(MetricInputError, match="out of only"):
        checklist_reward(5, 4)


def test_score_hand_computed():
    """Six keypoints: Auditory 1,1,0 (2/3); Dynamic 0,1 (1/2); Static 1 (1/1).
    Overall (Eq. 3, every keypoint equal) = 4/6; macro over the three dimensions = (2/3 + 1/2 + 1)/3 = 13/18."""
    judgments = [
        ("Auditory Elements", 1),
        ("Dynamic Action & Interaction", 0),
        ("Auditory Elements", True),
        ("Static Entity Description", 1),
        ("Auditory Elements", 0),
        ("dynamic action and interaction", np.int64(1)),
    ]
    out = checklist_score(judgments)
    assert out["overall"] == pytest.approx(4 / 6)
    assert out["macro"] == pytest.approx(13 / 18)
    assert (out["n_keypoints"], out["n_correct"]) == (6, 4)
    # listed in the paper's order, not the order of appearance
    assert list(out["per_dimension"]) == [
        "Static Entity Description",
        "Dynamic Action & Interaction",
        "Auditory Elements",
    ]
    assert out["per_dimension"]["Auditory Elements"] == {
        "score": pytest.approx(2 / 3),
        "n_keypoints": 3,
        "n_correct": 2,
    }
    assert out["per_dimension"]["Dynamic Action & Interaction"]["score"] == 0.5


def test_score_overall_equals_reward_from_counts():
    judgments = [(CHECKLIST_DIMENSIONS[i % 5], int(i % 3 == 0)) for i in range(17)]
    out = checklist_score(judgments)
    assert out["overall"] == checklist_reward(out["n_correct"], 17)


def test_canonical_dimension_variants():
    assert canonical_dimension("5. Cross-Modal Narrative Logic") == "Cross-modal Narrative Logic"
    assert canonical_dimension("SPATIO-TEMPORAL AND CINEMATOGRAPHY") == "Spatio-temporal & Cinematography"
    assert canonical_dimension("auditory elements") == "Auditory Elements"
    assert canonical_dimension(" Lighting ") == "Lighting"  # other taxonomies pass through


def test_unknown_dimensions_listed_after_known():
    out = checklist_score([("Lighting", 1), ("Auditory Elements", 0)])
    assert list(out["per_dimension"]) == ["Auditory Elements", "Lighting"]


@pytest.mark.parametrize(
    "judgments, cause",
    [
        ([], "no keypoints"),
        ([("Auditory Elements", 2)], "0/1"),
        ([("Auditory Elements", 0.5)], "0/1"),
        ([("Auditory Elements", "yes")], "0/1"),
        ([("", 1)], "non-empty"),
        ([("Auditory Elements",)], "not \\(dimension"),
    ],
)
def test_score_rejects_bad_judgments(judgments, cause):
    with pytest.raises(MetricInputError, match=cause):
        checklist_score(judgments)
