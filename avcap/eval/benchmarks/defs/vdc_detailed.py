"""VDC, detailed subset: VDCscore (AuroraCap), QA pairs of the reference answered from the caption."""

from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults

_SCRIPT = "AuroraCap post_eval/process_vdc_result.py (rese1f/aurora)"
_AVOCADO = "AVoCaDO eval_scripts/VDC/score_sglang_multi-threads.py"

SPEC = BenchmarkSpec(
    name="vdc-detailed",
    title="VDC detailed subset (1,027 videos; visual detailed captions)",
    protocol="vdc",
    data_format="vdc",
    data_hint="post_eval/detailed.jsonl (one line per video: {video_id: [{question, answer, category}]})",
    hub_id="wchai/Video-Detailed-Caption",
    metric="VDCscore: mean over videos of the mean 0-5 match score (and accuracy = share judged 'yes')",
    headline="score",
    lower_is_better=False,
    judge=JudgeDefaults(model="meta-llama/Llama-3.1-8B-Instruct", temperature=None, max_tokens=256),
    runs=1,
    aggregation="single_run",
    failure_rule="drop_video",
    retries=0,
    options=(("avocado", "AVoCaDO's copy: a failed answer drops only its question, an unreadable "
                         "score counts 0 (the video stays)"),),
    paper="AuroraCap / VDC (Chai et al. 2024); AVoCaDO Table 3",
    sources=(
        ("judge Llama-3.1-8B-Instruct served by SGLang; sampling left to the server", _SCRIPT + "; AVoCaDO README"),
        ("two calls per question: answer from the caption (max 256 tokens), then yes/no + score 0-5", _SCRIPT),
        ("per video: score = mean score, accuracy = share of 'yes'", _SCRIPT),
        ("a video with score 0 or accuracy 0 is left out of the means", _SCRIPT + " ('if tp_score and tp_acc')"),
        ("an unreadable answer anywhere in a video leaves the whole video out", _SCRIPT + " (except around the video)"),
        ("variant avocado: per-question failure handling", _AVOCADO),
        ("detailed.jsonl: {video_id: [{question, answer, category}]} per line", "rese1f/aurora post_eval/detailed.jsonl"),
    ),
    notes=(
        "Both official rules leave out videos (all-wrong ones included), which flatters the score; the "
        "report also gives 'all_videos' means with failures and zero videos kept.",
        "avcap's prompts (vdc.answer, vdc.match) ask for JSON; the scripts parse a Python dict string.",
        "avcap reads 'Yes' as yes; the scripts compare the verdict with 'yes' exactly.",
    ),
)
