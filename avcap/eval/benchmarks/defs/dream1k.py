"""DREAM-1K: AutoDQ precision / recall / F1 by the Tarsier scorer (evaluate_dream_gpt.py)."""

from avcap.eval.benchmarks.spec import BenchmarkSpec, JudgeDefaults

_SCRIPT = "official scorer tarsier/evaluation/metrics/evaluate_dream_gpt.py (as shipped in AVoCaDO's eval_scripts)"

SPEC = BenchmarkSpec(
    name="dream-1k",
    title="DREAM-1K (1,000 clips, 5 sources; visual detailed description)",
    protocol="autodq",
    data_format="dream1k",
    data_hint="DREAM-1K's jsonl (messages, dataset, idx, vid, extra_info.events)",
    hub_id="omni-research/DREAM-1K",
    metric="AutoDQ F1 from the per-source averaged precision and recall (higher is better)",
    headline="f1",
    lower_is_better=False,
    # The scorer sets no temperature: OpenAI's default applies.
    judge=JudgeDefaults(model="gpt-3.5-turbo-0125", temperature=None),
    runs=1,
    aggregation="single_run",
    failure_rule="exclude_and_count",
    retries=100,
    lowercase=True,
    strata_field="source",
    paper="Tarsier (Wang et al. 2024) AutoDQ; Tarsier2 (Yuan et al. 2025) Table 1",
    sources=(
        ("judge gpt-3.5-turbo (Azure deployment 'gpt-35-turbo-0125'), no temperature set", _SCRIPT),
        ("reference events: extra_info.events when given, else extracted (at most 10)", _SCRIPT + "; REFERENCE.md"),
        ("caption and reference lower-cased before every judge call", _SCRIPT + " (process_one_sample)"),
        ("only 'entailment' counts, for recall and for precision", _SCRIPT + " (is_recall=True both ways)"),
        ("an empty event list scores 1.0", _SCRIPT + "; REFERENCE.md"),
        ("an unusable answer is asked again, up to 100 times, then the sample fails", _SCRIPT),
        ("per-source P and R averaged, F1 from the averages; overall = mean over sources", _SCRIPT + "; Tarsier2 Table 1"),
        ("failed samples excluded from the scores and counted per source", _SCRIPT + " (Success / Failed columns)"),
        ("the reference is the assistant content's 'reference' field", _SCRIPT + " (extract_item_for_eval)"),
    ),
    notes=(
        "avcap asks with its own AutoDQ prompts (autodq.events, autodq.entail), written from the "
        "scorer's requirements; the scorer's wording differs.",
        "The bootstrap resamples videos within each source (200 per source), so every replicate keeps "
        "the five subsets the metric averages over.",
    ),
)
