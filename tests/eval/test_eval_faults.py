"""With 30 % of requests failing in every way the test server knows, the metrics equal a clean run's."""

from avcap.eval import EvalConfig, EvalJob, run_job
from avcap.judge import BackendOptions, JudgeConfig, RetryPolicy
from avcap.judge.testing import FAULT_KINDS, FakeOpenAIServer, FaultPlan

ALL = ("salmonn2", "autodq", "checklist", "dialogue", "repetition")


def evaluate(bench_files, out, server):
    data, caps_a, caps_b = bench_files
    job = EvalJob(
        data=data, captions=[caps_a, caps_b], out=out, judge="openai",
        config=EvalConfig(metrics=ALL, judge_runs=2),
        backend=BackendOptions(model="fake-judge", base_url=server.base_url, timeout_s=0.3),
        judge_config=JudgeConfig(concurrency=8, retry=RetryPolicy(max_attempts=6, base_delay_s=0.001, max_delay_s=0.01)),
    )
    return run_job(job, progress=False)


def test_metrics_with_30_percent_faults_equal_the_fault_free_metrics(bench_files, tmp_path):
    with FakeOpenAIServer() as clean_server:
        clean = evaluate(bench_files, tmp_path / "clean", clean_server)
    plan = FaultPlan(rate=0.3, seed=11, stall_s=0.6, retry_after_s=0.01)
    with FakeOpenAIServer(faults=plan) as faulty_server:
        faulty = evaluate(bench_files, tmp_path / "faulty", faulty_server)
        injected = faulty_server.fault_counts
    assert sum(injected.values()) >= 0.2 * faulty_server.requests and len(injected) >= 6, injected
    assert set(injected) <= set(FAULT_KINDS)
    assert faulty.stats.retries > 0 and faulty.stats.reasks > 0 and faulty.stats.failures == 0
    assert clean.stats.calls < faulty.stats.calls
    # Everything but the token count (re-asks cost tokens) is identical, item by item.
    for key in ("params", "data_errors", "caption_sets", "items"):
        assert faulty.report[key] == clean.report[key], key
    assert all(not s["judge_failures"] for s in faulty.report["caption_sets"])
