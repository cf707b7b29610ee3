"""Tarsier2's frame-grounded captions (<frame: i-j>): parsing, stripping, and SFT rows that carry them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avcap.data.grounding import GroundedSegment, check_frame_tags, parse_grounded, strip_frame_tags
from avcap.errors import DataError

PAPER = ("<frame: 1-3> A woman stands in a dim room. She approaches a chest. <frame: 4-13> The camera "
         "shifts to show her face. < frame: 14-16 > She turns the dial of the padlock.")


def test_the_papers_example_parses_into_grounded_segments():
    segments = parse_grounded(PAPER, n_frames=16)
    assert [(s.first, s.last) for s in segments] == [(1, 3), (4, 13), (14, 16)]
    assert segments[0].text == "A woman stands in a dim room. She approaches a chest."
    assert strip_frame_tags(PAPER).startswith("A woman stands") and "frame" not in strip_frame_tags(PAPER)


def test_text_before_the_first_tag_and_single_frames():
    assert parse_grounded("Intro. <frame: 2> Event.") == [GroundedSegment(None, None, "Intro."),
                                                          GroundedSegment(2, 2, "Event.")]
    assert parse_grounded("No tags at all.") == [GroundedSegment(None, None, "No tags at all.")]
    assert strip_frame_tags("No tags at all.") == "No tags at all."


@pytest.mark.parametrize("text, cause", [
    ("<frame: 3-1> backwards", "i <= j"),
    ("<frame: 0-2> zero", "numbered from 1"),
    ("<frame: a-b> letters", "malformed"),
    ("<frames: 1-2> plural", "malformed"),
    ("<frame: 1-2-3> three", "malformed"),
])
def test_malformed_tags_are_refused(text, cause):
    with pytest.raises(DataError, match=cause):
        check_frame_tags(text)


def test_a_tag_past_the_clips_frames_is_refused():
    check_frame_tags("<frame: 1-16> ok", n_frames=16)
    with pytest.raises(DataError, match="has 16 frames"):
        check_frame_tags("<frame: 15-17> too far", n_frames=16)


def test_sft_accepts_grounded_answers_and_names_the_bad_row(tmp_path):
    from avcap.media.clip import Clip
    from avcap.train.data import collate_supervised, load_rows, supervised_items

    rows = [{"id": "good", "video": "v.mp4", "conversations": [{"from": "gpt", "value": "<frame: 1-2> A tone plays."}]},
            {"id": "late", "video": "v.mp4", "conversations": [{"from": "gpt", "value": "<frame: 3-4> Late."}]}]
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = supervised_items(load_rows(path, what="t"), "Describe.")
    assert items[0].answer == "<frame: 1-2> A tone plays."  # trained on as written
    clip = Clip("v.mp4", np.zeros((2, 4, 4, 3), np.uint8), np.array([0.0, 1.0]), np.zeros(16), 2.0, False)
    assert collate_supervised([(clip, items[0])]).examples[0].answer == items[0].answer
    with pytest.raises(DataError, match="'late'.*has 2 frames"):
        collate_supervised([(clip, items[1])])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "typo", "video": "v.mp4",
                               "conversations": [{"from": "gpt", "value": "<frame 1-2> typo"}]}) + "\n")
    with pytest.raises(DataError, match="'typo'.*malformed"):
        supervised_items(load_rows(bad, what="t"), "Describe.")
