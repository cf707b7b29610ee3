"""README's nano evidence block is generated from the shipped report, never typed by hand.

``python -m avcap.train.nano_report runs/nano --ship avcap/assets/nano --readme README.md`` writes
it; a hand edit of a number, or a new shipped model without the README regenerated, fails here.
"""

import json
from pathlib import Path

from avcap.train.nano_report_render import readme_block_of, render_readme_block

ROOT = Path(__file__).resolve().parents[1]


def test_readme_nano_evidence_block_is_what_the_shipped_report_renders():
    report = json.loads((ROOT / "avcap" / "assets" / "nano" / "training_report.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_block_of(readme) == render_readme_block(report), (
        "README.md's nano evidence block differs from avcap/assets/nano/training_report.json: regenerate it with "
        "`python -m avcap.train.nano_report --from avcap/assets/nano/training_report.json --readme README.md` "
        "(a new model: `... runs/nano --ship avcap/assets/nano --readme README.md`); do not edit it by hand")
