"""video-SALMONN 2 test set: Miss% / Hall% / Total% by the test set's own evaluation protocol."""

from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults

_REF = "REFERENCE.md, video-SALMONN 2 'Evaluation protocol' (the test set's own script)"

SPEC = BenchmarkSpec(
    name="salmonn2-testset",
    title="video-SALMONN 2 test set (483 clips, audio-visual captions)",
    protocol="events",
    data_format="salmonn2",
    data_hint="the test set's JSON/JSONL (rows: video, conversations, events); its evaluation script "
              "beside it is read for the official judge prompt",
    hub_id="tsinghua-ee/video-SALMONN_2_testset",
    metric="Total% = Miss% + Hall% (lower is better), rates pooled over the set, median of 7 judge runs",
    headline="total",
    lower_is_better=True,
    judge=JudgeDefaults(model="gpt-3.5-turbo-0125", temperature=0.0, top_p=0.1, seed=2024,
                        seed_per_run=1, seed_per_retry=1),
    runs=7,
    aggregation="median_run",
    failure_rule="drop_per_run",
    retries=8,
    fallback_prompt=True,
    collapse_repeats=True,
    options=(("same_items", "score every run on the items that succeeded in all runs (avcap's stricter rule)"),),
    paper="video-SALMONN 2 (Tang et al. 2025), Sec. 3.3.1, Sec. 4 and Appendix F",
    sources=(
        ("judge gpt-3.5-turbo-0125", _REF + "; paper Sec. 4 and Appendix F ('GPT-3.5 is used')"),
        ("temperature 0, top-p 0.1", _REF),
        ("seed 2024, +1 per run and +1 per retry", _REF),
        ("a failed item is retried up to 8 times, then asked once with a fallback prompt", _REF),
        ("repeated text collapsed in captions that did not end with the end-of-turn token", _REF),
        ("7 runs; the run whose total error is the median (4th of 7 sorted) is reported", _REF),
        ("rates pooled over the set: Σmissing/Σevents, Σ(incorrect + hallucinated)/Σevents", _REF + "; Appendix F"),
        ("failed items are dropped per run (avcap also counts and lists them)", _REF),
        ("Miss = missing/events, Hall = (incorrect + hallucinated)/events, Total = Miss + Hall", "paper Appendix F"),
        ("judge prompt: read at run time from the user's copy of the official script", "issue 19; REFERENCE.md"),
    ),
    notes=(
        "Without the official script avcap judges with its own prompts (salmonn2.judge and "
        "salmonn2.judge_fallback), which are not the official wording: numbers are then comparable "
        "across avcap runs, not with published tables.",
        "Transport resends (HTTP 429/5xx, timeouts) repeat the identical request, seed included: the "
        "server never answered it. A retry in the protocol's sense follows an unusable answer.",
    ),
)
