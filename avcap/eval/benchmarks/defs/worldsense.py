"""WorldSense answered from the caption alone, as AVoCaDO evaluates captions (Sec. 4.2.2)."""

from dataclasses import replace

from avcap.eval.benchmarks.defs.daily_omni import SPEC as _QA

_SCRIPT = "AVoCaDO eval_scripts/WorldSense/evaluation.py and analysis.py"

SPEC = replace(
    _QA,
    name="worldsense",
    title="WorldSense by caption (1,662 videos, 3,172 questions)",
    data_format="worldsense",
    data_hint="WorldSense's worldsense_qa.json (an object per video id: video_duration, domain, "
              "task0..taskN with question, candidates, answer, task_type, task_domain)",
    hub_id="honglyhly/WorldSense",
    paper="AVoCaDO Sec. 4.2.2 and Table 2; WorldSense (Hong et al. 2025)",
    sources=(
        ("judge gemini-2.5-pro, temperature 0, top-p 0.001, seed 42", _SCRIPT + " (CONFIG, SEED)"),
        ("questions are the video's task* entries; options from 'candidates'", _SCRIPT + " (eval_worldsense_caption_qas)"),
        *_QA.sources[1:6],
        ("accuracy per task_type, task_domain and domain", "WorldSense paper tables"),
    ),
)
