"""UGC-VideoCap: a judge grades each caption against the reference on visual / audio / details (1-5)."""

from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults

_SCRIPT = "UGC-VideoCaptioner eval_caption.py (WPR001/UGC_VideoCaptioner)"

SPEC = BenchmarkSpec(
    name="ugc-videocap",
    title="UGC-VideoCap (1,000 TikTok videos, audio-visual captions)",
    protocol="ugc",
    data_format="ugc",
    data_hint="a folder of per-video JSON files <video_id>.json with final_caption.caption_text (what "
              "eval_caption.py reads), or one JSON/JSONL of such objects with video_id",
    hub_id="openinterx/UGC-VideoCap",
    metric="average score as a percentage: mean over videos of (visual + audio + details)/3, / 5 x 100",
    headline="overall_percent",
    lower_is_better=False,
    judge=JudgeDefaults(model="gpt-4o-2024-08-06", temperature=1.0),
    runs=1,
    aggregation="single_run",
    failure_rule="count_zero",
    retries=0,
    paper="UGC-VideoCaptioner (Wu et al. 2025); AVoCaDO Table 1",
    sources=(
        ("judge gpt-4o-2024-08-06, temperature 1", _SCRIPT + "; its README ('Scores are judged by GPT-4o-2024-08-06')"),
        ("one call per video, integer 1-5 for visual, audio and details", _SCRIPT),
        ("a failed call or an unreadable answer scores 0 on every dimension and stays in the mean", _SCRIPT + " (except branch)"),
        ("videos without a caption or without a reference are skipped", _SCRIPT + " (continue)"),
        ("overall = mean of per-video averages / 5 x 100; per-dimension means on 1-5", _SCRIPT + " (final_output)"),
        ("reference = final_caption.caption_text of <video_id>.json", _SCRIPT),
    ),
    notes=(
        "avcap's prompt (ugc.score) restates the script's three dimensions and five grades in its own words.",
        "The per-dimension percentages of the README tables are the 1-5 means x 20; both are reported.",
    ),
)
