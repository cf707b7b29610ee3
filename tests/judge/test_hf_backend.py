"""The local transformers judge, on a tiny random-init Qwen3 built offline."""

import asyncio

import pytest

from avcap.errors import JudgeError
from avcap.judge import BackendOptions, Judge, JudgeConfig, create_backend, tasks

from .judge_tiny_model import build_tiny_judge


@pytest.fixture(scope="module")
def tiny_judge_dir(tmp_path_factory):
    return build_tiny_judge(tmp_path_factory.mktemp("tiny-qwen3-judge"))


def test_chat_runs_the_template_and_counts_tokens(tiny_judge_dir):
    backend = create_backend("hf", BackendOptions(model=str(tiny_judge_dir), max_new_tokens=6))
    backend.load()
    reply = asyncio.run(backend.chat([{"role": "system", "content": "reply json"},
                                      {"role": "user", "content": "the man missing"}]))
    assert isinstance(reply.text, str)
    # <|im_start|> system \n reply json <|im_end|> ... <|im_start|> assistant: the template was applied.
    assert reply.prompt_tokens >= 10 and reply.completion_tokens == 6


def test_garbage_answers_end_as_recorded_failures(tiny_judge_dir):
    backend = create_backend("hf", BackendOptions(model=str(tiny_judge_dir), max_new_tokens=5))
    judge = Judge(backend, config=JudgeConfig(max_reasks=1))
    result = asyncio.run(judge.ask(tasks.salmonn2_judgment("v1", "A man opens a door.", ["A man opens a door."])))
    assert not result.ok
    assert result.error.startswith("salmonn2.judge: malformed answer after 2 tries")
    assert judge.stats.calls == 2 and result.completion_tokens == 10 and result.prompt_tokens > 0


def test_missing_model_folder_is_one_clear_line(tmp_path):
    backend = create_backend("hf", BackendOptions(model=str(tmp_path / "nope")))
    with pytest.raises(JudgeError) as info:
        backend.load()
    assert str(info.value).startswith(f"cannot load judge model {tmp_path / 'nope'}") and "\n" not in str(info.value)


def test_eval_with_a_local_judge_records_every_item_as_failed(tiny_judge_dir, tmp_path):
    import json

    from avcap.eval import EvalConfig, EvalJob, run_job

    data = tmp_path / "t.json"
    data.write_text(json.dumps([{"id": f"v{i}", "video": f"v{i}.mp4", "events": ["A man opens a door."]} for i in range(2)]))
    caps = tmp_path / "c.jsonl"
    caps.write_text("".join(json.dumps({"id": f"v{i}", "caption": "A man opens a door."}) + "\n" for i in range(2)))
    job = EvalJob(data=data, captions=[caps], out=tmp_path / "out", judge="hf",
                  backend=BackendOptions(model=str(tiny_judge_dir), max_new_tokens=4),
                  judge_config=JudgeConfig(max_reasks=0), config=EvalConfig(metrics=("salmonn2",)))
    report = run_job(job, progress=False).report
    metrics = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert (metrics["n_items"], metrics["n_scored"], metrics["n_failed"]) == (2, 0, 2)
    causes = [f["cause"] for f in report["caption_sets"][0]["judge_failures"]]
    assert len(causes) == 2 and all("salmonn2.judge: malformed answer after 1 tries" in c for c in causes)
    # Both items ask the same question, so it is asked once (4 new tokens); spent tokens are counted.
    assert report["params"]["judge"]["backend"] == "hf" and report["tokens"]["completion"] == 4


def test_a_valid_answer_from_a_local_model_is_parsed_and_scored(tmp_path):
    import json

    from avcap.eval import EvalConfig, EvalJob, run_job

    from .judge_tiny_model import build_scripted_judge

    judge_dir = build_scripted_judge(tmp_path / "scripted-judge")
    data = tmp_path / "t.json"
    data.write_text(json.dumps([{"id": "v0", "video": "v0.mp4", "events": ["A man opens a door.", "A dog barks."]}]))
    caps = tmp_path / "c.jsonl"
    caps.write_text(json.dumps({"id": "v0", "caption": "A dog barks. A cat sleeps."}) + "\n")
    job = EvalJob(data=data, captions=[caps], out=tmp_path / "out", judge="hf",
                  backend=BackendOptions(model=str(judge_dir), max_new_tokens=32),
                  judge_config=JudgeConfig(max_reasks=0), config=EvalConfig(metrics=("salmonn2",)))
    report = run_job(job, progress=False).report
    metrics = report["caption_sets"][0]["metrics"]["salmonn2"]
    assert (metrics["n_scored"], metrics["n_failed"]) == (1, 0), report["caption_sets"][0]["judge_failures"]
    # The model's answer: event 1 missing, one hallucination, out of 2 events.
    assert (metrics["miss"], metrics["hall"], metrics["total"]) == (0.5, 0.5, 1.0)
    run = report["items"][0]["results"]["c"]["salmonn2"]["runs"][0]
    assert run["missing"] == [0] and run["hallucinated"] == ["A cat sleeps."]
