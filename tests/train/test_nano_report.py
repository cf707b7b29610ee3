"""The nano run's report: held-out rows per round, gDPO vs DPO, audio on/off, relative change, shipping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcap.train.nano_report import build_report, main, relative_change, render_markdown


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _eval_report(total, miss, hall, rep):
    return {"caption_sets": [{"metrics": {"salmonn2": {"n_scored": 10, "total": total, "miss": miss, "hall": hall},
                                          "repetition": {"n_scored": 10, "repetition_rate": rep}}}]}


@pytest.fixture
def run(tmp_path) -> Path:
    run = tmp_path / "nano"
    (run / "stage_seconds.tsv").parent.mkdir(parents=True)
    (run / "stage_seconds.tsv").write_text("data\t100\nsft\t900\nsft\t20\nmrdpo\t600\nmrdpo_dpo\t500\naudio_on\t50\n")
    _write(run / "init" / "avcap.json", {"parameters": {"llm": 10, "total": 12}})
    _write(run / "sft" / "report.json", {"train": {"global_step": 1500, "train_loss": 1.1, "last": {"loss": 0.4}}})
    for name, totals in (("mrdpo", [0.80, 0.70, 0.60]), ("mrdpo_dpo", [0.80, 0.75, 0.90])):
        _write(run / name / "eval_start.json", {"rows": 200, "total": totals[0], "miss": 0.5, "hall": 0.3})
        _write(run / name / "report.json", {"rounds": 2, "final_model": str(run / name / "round_2" / "model")})
        for t in (1, 2):
            _write(run / name / f"round_{t}" / "report.json", {
                "learning_rate": 1e-4, "eval": {"total": totals[t], "miss": 0.4, "hall": totals[t] - 0.4},
                "pairs": {"pairs": 100 + t, "mean_total_error": 0.9, "mean_chosen_total": 0.5,
                          "mean_rejected_total": 1.2},
                "train": {"first_step": {"dpo_loss": 0.6931}}})
    (run / "mrdpo" / "round_2" / "model").mkdir()
    (run / "mrdpo" / "round_2" / "model" / "config.json").write_text("{}")
    _write(run / "ablation" / "audio_on" / "report.json", _eval_report(0.6, 0.35, 0.25, 0.03))
    _write(run / "ablation" / "audio_off" / "report.json", _eval_report(0.9, 0.5, 0.4, 0.04))
    _write(run / "reliance" / "sft.json", {"nll": {"matched": 0.5}, "muted_minus_matched": 0.01,
                                           "blank_minus_matched": 0.2, "swapped_minus_matched": 0.3})
    return run


def test_relative_change():
    assert relative_change(0.80, 0.60) == pytest.approx(-0.25)
    assert relative_change(0.80, 1.00) == pytest.approx(0.25)
    assert relative_change(0.0, 0.5) is None and relative_change(None, 0.5) is None


def test_report_reads_every_stage(run):
    report = build_report(run)
    assert [r["total"] for r in report["gdpo"]] == [0.80, 0.70, 0.60]
    assert report["gdpo"][2]["vs_sft"] == pytest.approx(-0.25)
    assert report["dpo"][2]["vs_sft"] == pytest.approx(0.125)
    assert report["gdpo"][1]["pairs"] == 101 and report["gdpo"][1]["first_step_dpo_loss"] == 0.6931
    assert report["audio"]["on"] == {"total": 0.6, "miss": 0.35, "hall": 0.25, "repetition": 0.03}
    assert report["audio"]["off"]["total"] == 0.9
    assert report["stage_seconds"]["sft"] == 920
    assert report["training_seconds"] == 100 + 920 + 600  # the comparison and ablation runs are not training
    assert report["heldout_videos"] == 200
    assert report["sft"] == {"global_step": 1500, "train_loss": 1.1, "last": {"loss": 0.4}}
    text = render_markdown(report)
    assert "| after SFT | 80.0% |" in text and "| MrDPO round 2 (gDPO) | 60.0% |" in text and "-25.0%" in text
    assert "| MrDPO round 2 (DPO) | 90.0% |" in text and "+12.5%" in text
    assert "| off | 90.0% |" in text and "bash scripts/train_nano.sh" in text
    assert report["reliance"]["final"] is None and "| sft | 0.5000 | +0.0100 | +0.2000 | +0.3000 |" in text


def test_missing_stages_render_as_dashes(tmp_path):
    report = build_report(tmp_path)
    assert report["gdpo"] == [{"round": 0, "vs_sft": None}] and report["audio"] == {"on": None, "off": None}
    assert report["reliance"] == {"sft": None, "final": None}
    assert "–" in render_markdown(report)


def test_ship_copies_the_final_model_and_reports(run, tmp_path, capsys):
    dest = tmp_path / "assets" / "nano"
    dest.mkdir(parents=True)
    (dest / "stale.safetensors").write_text("old")
    main([str(run), "--ship", str(dest)])
    assert sorted(p.name for p in dest.iterdir()) == ["TRAINING.md", "config.json", "training_report.json"]
    assert json.loads((dest / "training_report.json").read_text())["gdpo"][2]["total"] == 0.60
    assert "MrDPO round 2" in capsys.readouterr().out
