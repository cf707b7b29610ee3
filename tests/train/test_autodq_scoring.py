"""AutoDQ scorers for the preference filter: symbolic (exact), any judge backend (cached), importable."""

from __future__ import annotations

import pytest

from avcap.data import DatasetRow
from avcap.errors import ConfigError
from avcap.train.autodq_scoring import JudgeAutoDQ, SymbolicAutoDQ, make_autodq_scorer, scorer_name
from avcap.train.configs import ScorerArgs
from avcap.train.scoring import ScoreFailure

EVENTS = ["A low tone plays.", "A red square appears on the left."]


def _row(rid="s0", events=EVENTS, reference=" ".join(EVENTS), raw=None):
    return DatasetRow(id=rid, video=None, audio=None, prompt=None, reference=reference, events=events, raw=raw or {})


def test_symbolic_scores_exactly_and_ignores_frame_tags():
    scorer = make_autodq_scorer(ScorerArgs(kind="symbolic"), "unused")
    assert isinstance(scorer, SymbolicAutoDQ) and scorer_name(scorer) == "symbolic"
    plain, tagged, half = scorer([_row()] * 3, [" ".join(EVENTS), "<frame: 1-2> A low tone plays. <frame: 3> "
                                                "A red square appears on the left.", "A low tone plays."])
    assert plain == tagged == (1.0, 1.0) and half == (1.0, 0.5)
    failed = scorer([_row(events=None)], ["x"])[0]
    assert isinstance(failed, ScoreFailure) and "script" in failed.cause


def test_judge_backend_scores_and_caches(tmp_path):
    from avcap.judge.backends.scripted import ScriptedBackend
    from avcap.judge.registry import register_backend

    backends = []

    def factory(options):
        backends.append(ScriptedBackend())
        return backends[-1]

    register_backend("negdpo-counting", factory, replace=True)
    scorer = make_autodq_scorer(ScorerArgs(kind="judge", backend="negdpo-counting"), tmp_path)
    assert isinstance(scorer, JudgeAutoDQ)
    rows = [_row("a"), _row("b", raw={"extra_info": {"events": ["A tone plays."]}})]
    first = scorer(rows, ["A low tone plays. A red square appears on the left.", "Nothing."])
    assert all(isinstance(r, tuple) and all(0 <= x <= 1 for x in r) for r in first)
    assert first[0][1] == 1.0  # the scripted judge finds both reference events in an identical caption
    calls = backends[-1].calls
    assert calls > 0 and (tmp_path / "judge_cache.sqlite").is_file()
    assert scorer(rows, ["A low tone plays. A red square appears on the left.", "Nothing."]) == first
    assert backends[-1].calls == 0  # every answer from the cache
    no_reference = scorer([_row("c", reference=None)], ["x"])[0]
    assert isinstance(no_reference, ScoreFailure) and "reference" in no_reference.cause


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="expected judge, symbolic"):
        make_autodq_scorer(ScorerArgs(kind="nonsense"), "unused")
    with pytest.raises(ConfigError, match="cannot be imported"):
        make_autodq_scorer(ScorerArgs(kind="no.such.module:f"), "unused")
