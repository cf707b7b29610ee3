"""Daily-Omni answered from the caption alone, as AVoCaDO evaluates captions (Sec. 4.2.2)."""

from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults

_SCRIPT = "AVoCaDO eval_scripts/Daily-Omni/evaluation.py and WorldSense/analysis.py"

SPEC = BenchmarkSpec(
    name="daily-omni",
    title="Daily-Omni by caption (684 videos, 1,197 questions)",
    protocol="qa",
    data_format="daily_omni",
    data_hint="Daily-Omni's qa.json (one object per question: Question, Choice, Answer, video_id, Type, "
              "video_duration ...) or AVoCaDO's grouped_data.json (video_id, questions)",
    hub_id="liarliar/Daily-Omni",
    metric="accuracy of a text judge answering from the caption alone; N/A and failures count wrong",
    headline="accuracy",
    lower_is_better=False,
    judge=JudgeDefaults(model="gemini-2.5-pro", temperature=0.0, top_p=0.001, seed=42),
    runs=1,
    aggregation="single_run",
    failure_rule="count_wrong",
    retries=9,
    answer_match="exact",
    options=(("lenient", "read the option letter leniently (avcap.metrics.qa.parse_choice) instead of exact match"),),
    paper="AVoCaDO Sec. 4.2.2 and Table 2; Daily-Omni (Zhou et al. 2025)",
    sources=(
        ("judge gemini-2.5-pro, temperature 0, top-p 0.001, seed 42", _SCRIPT + " (CONFIG, SEED)"),
        ("answer from the caption only, a letter or 'N/A'", _SCRIPT + " (system_instruction); AVoCaDO Sec. 4.2.2"),
        ("N/A counts as wrong", "AVoCaDO Sec. 4.2.2 ('marked as incorrect samples')"),
        ("up to 10 attempts on an error or an empty answer, same request each time", _SCRIPT + " (generate)"),
        ("a question whose attempts all fail counts as wrong (its answer is None)", _SCRIPT + " (analysis.py equality)"),
        ("correct = the stripped answer equals the gold letter, case-insensitively", _SCRIPT),
        ("accuracy per Type and per video_duration as in Daily-Omni's own tables", "Daily-Omni README / testmodel.py"),
    ),
    notes=(
        "avcap's QA prompt (qa.answer) asks for {\"answer\": letter or N/A} as JSON; the official "
        "system instruction asks for the bare letter.",
        "The judge's thinking budget (512 tokens, a Gemini setting) has no OpenAI-compatible "
        "equivalent and is not sent.",
        "Gemini is reached through its OpenAI-compatible endpoint: --judge-base-url "
        "https://generativelanguage.googleapis.com/v1beta/openai/ --api-key-env GEMINI_API_KEY.",
    ),
)
