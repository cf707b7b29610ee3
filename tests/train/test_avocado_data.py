"""`avcap data checklist` and `avcap data fuse`: symbolic checklists, fusion through the fake OpenAI server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from avcap.cli import app
from avcap.judge import prompts as P
from avcap.judge.heuristic import _SECTION
from avcap.judge.testing import FakeOpenAIServer, FaultPlan
from avcap.synth.dataset import make_row
from avcap.synth.sampler import sample_script
from avcap.train.avocado_data import validate_keypoints

runner = CliRunner()
KEY = "sk-test"


def _rows(tmp_path, n=3, extra=None):
    rows = []
    for i in range(n):
        row = make_row(sample_script(10 + i), f"c{i}")
        row["video"] = f"c{i}.mp4"
        (tmp_path / f"c{i}.mp4").write_bytes(b"")
        rows.append({**row, **(extra(i) if extra else {})})
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    return tmp_path / "rows.json", rows


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_checklist_symbolic_exact_and_resumed(tmp_path):
    data, rows = _rows(tmp_path)
    out = tmp_path / "ck.jsonl"
    first = runner.invoke(app, ["data", "checklist", "--data", str(data), "--judge", "symbolic", "--out", str(out)])
    assert first.exit_code == 0, first.output
    got = {r["id"]: r for r in _lines(out)}
    for row in rows:  # one keypoint per ground-truth event, canonical sentence, in order
        assert [k["text"] for k in got[row["id"]]["keypoints"]] == row["events"]
    again = runner.invoke(app, ["data", "checklist", "--data", str(data), "--judge", "symbolic", "--out", str(out)])
    assert again.exit_code == 0 and "0 checklists written (3 already)" in again.output
    assert len(_lines(out)) == 3


def test_checklist_row_without_caption_fails_alone(tmp_path):
    data, rows = _rows(tmp_path)
    rows[1]["conversations"] = rows[1]["conversations"][:1]
    data.write_text(json.dumps(rows))
    out = tmp_path / "ck.jsonl"
    result = runner.invoke(app, ["data", "checklist", "--data", str(data), "--judge", "symbolic", "--out", str(out)])
    assert result.exit_code == 1 and "c1: no ground-truth caption" in result.output
    assert sum("error" in r for r in _lines(out)) == 1 and len(_lines(out)) == 3


def test_validate_keypoints_drops_unknown_dimensions_and_notes_repeats():
    kept, notes = validate_keypoints([("auditory elements", "A tone plays."), ("unspecified", "x"),
                                      ("Auditory Elements", "a tone  plays.")])
    assert [k["dimension"] for k in kept] == ["Auditory Elements"] * 2 and len(notes) == 2


def _responder(nonsense_for: str):
    """Fusion: visual + ' ' + audio; scoring: 5 when the fused text holds both inputs, else 2.
    The fusion of clip ``nonsense_for`` is first answered with prose (no JSON), then properly."""
    asked: set[str] = set()

    def answer(messages):
        spec = P.identify(messages)
        user = messages[1]["content"]
        sec = {m.group("tag"): m.group("body") for m in _SECTION.finditer(user)}
        if spec.name == "avocado.fuse":
            if nonsense_for in sec["visual"] and nonsense_for not in asked:
                asked.add(nonsense_for)
                return "I think the video is lovely!"
            if "BAD" in sec["visual"]:
                return json.dumps({"caption": sec["visual"]})  # drops the audio: scored low
            return json.dumps({"caption": f"{sec['visual']} {sec['audio']}"})
        if spec.name == "avocado.fuse_score":
            both = sec["visual"] in sec["fused"] and sec["audio"] in sec["fused"]
            return json.dumps({"score": 5 if both else 2, "reason": "checked"})
        return "{}"

    return answer


def test_fuse_through_the_fake_server_with_nonsense_and_429(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    data, rows = _rows(tmp_path, extra=lambda i: {"visual_caption": f"clip{i} a red square moves{' BAD' if i == 2 else ''}",
                                                   "audio_caption": f"clip{i} a tone plays"})
    out = tmp_path / "fused.jsonl"
    faults = FaultPlan(rate=1.0, kinds=("429",), max_per_prompt=1)
    with FakeOpenAIServer(_responder("clip1"), faults=faults, api_key=KEY) as server:
        args = ["data", "fuse", "--data", str(data), "--judge", "openai", "--judge-model", "fake",
                "--judge-base-url", server.base_url, "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert server.fault_counts["429"] >= 1
        got = {r["id"]: r for r in _lines(out)}
        assert got["c0"]["caption"] == "clip0 a red square moves clip0 a tone plays" and got["c0"]["score"] == 5
        assert got["c1"]["kept"] and got["c1"]["score"] == 5  # the nonsense answer was re-asked
        assert got["c2"]["score"] == 2 and got["c2"]["kept"] is False
        assert "2 kept at >= 4" in result.output
        requests = server.requests
        again = runner.invoke(app, args)
        assert again.exit_code == 0 and server.requests == requests and "3 already" in again.output
    assert len(_lines(out)) == 3


def test_fuse_missing_caption_is_one_failed_row(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    data, rows = _rows(tmp_path, n=2, extra=lambda i: {"visual_caption": f"clip{i} a square moves"})
    (tmp_path / "audio.jsonl").write_text(json.dumps({"id": "c0", "caption": "clip0 a tone plays"}) + "\n")
    out = tmp_path / "fused.jsonl"
    with FakeOpenAIServer(_responder("none"), api_key=KEY) as server:
        result = runner.invoke(app, ["data", "fuse", "--data", str(data), "--audio-captions", str(tmp_path / "audio.jsonl"),
                                     "--judge", "openai", "--judge-model", "fake", "--judge-base-url", server.base_url,
                                     "--out", str(out)])
    assert result.exit_code == 1 and "c1: no audio caption" in result.output
    assert {r["id"]: bool(r.get("error")) for r in _lines(out)} == {"c0": False, "c1": True}


def test_fuse_captions_missing_captions_with_an_avcap_captioner(tmp_path, monkeypatch):
    """--captioner makes the visual (muted video) and audio (sound alone) captions, then fusion runs."""
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_sample_video(tmp_path / "v.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=64, height=48, seed=0))
    (tmp_path / "rows.json").write_text(json.dumps([{"id": "v", "video": "v.mp4"}]))
    seen = []

    def answer(messages):
        spec = P.identify(messages)
        seen.append(spec.name)
        if spec.name == "avocado.fuse":
            return json.dumps({"caption": "a fused audio visual caption"})
        return json.dumps({"score": 4, "reason": "ok"})

    out = tmp_path / "fused.jsonl"
    with FakeOpenAIServer(answer, api_key=KEY) as server:
        result = runner.invoke(app, ["data", "fuse", "--data", str(tmp_path / "rows.json"), "--captioner", "tiny:salmonn2",
                                     "--max-new-tokens", "8",
                                     "--judge", "openai", "--judge-model", "fake", "--judge-base-url", server.base_url,
                                     "--out", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = _lines(out)
    assert row["visual_caption"] is not None and row["audio_caption"] is not None and row["kept"] is True
    assert seen == ["avocado.fuse", "avocado.fuse_score"]
