"""The nano run's report: held-out rows per round, gDPO vs DPO, audio on/off, relative change, shipping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avcap.synth.language import caption_from_script, event_sentence
from avcap.synth.lexicon import VISUAL_KINDS
from avcap.synth.sampler import sample_script
from avcap.synth.world import WorldConfig
from avcap.train.nano_report import (
    MAX_CURVE_POINTS,
    build_report,
    loss_history,
    main,
    relative_change,
    render_markdown,
)
from avcap.train.nano_report_render import README_END, README_START, readme_block_of, render_readme_block


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
    _write(run / "sft" / "report.json", {"train": {"global_step": 1500, "train_loss": 1.1, "last": {"loss": 0.4},
                                                   "log_history": [{"step": 100, "loss": 1.5, "grad_norm": 1.0},
                                                                   {"step": 200, "loss": 0.4}, {"train_loss": 1.1}]}})
    _write(run / "align" / "report.json", {"train": {"log_history": [{"step": 10, "loss": 3.0}, {"step": 20, "loss": 2.5}]}})
    for name, totals in (("mrdpo", [0.80, 0.70, 0.60]), ("mrdpo_dpo", [0.80, 0.75, 0.90])):
        _write(run / name / "eval_start.json", {"rows": 200, "total": totals[0], "miss": 0.5, "hall": 0.3})
        _write(run / name / "report.json", {"rounds": 2, "final_model": str(run / name / "round_2" / "model")})
        for t in (1, 2):
            _write(run / name / f"round_{t}" / "report.json", {
                "learning_rate": 1e-4, "eval": {"total": totals[t], "miss": 0.4, "hall": totals[t] - 0.4},
                "pairs": {"pairs": 100 + t, "mean_total_error": 0.9, "mean_chosen_total": 0.5,
                          "mean_rejected_total": 1.2},
                "train": {"first_step": {"dpo_loss": 0.6931},
                          "log_history": [{"step": 10, "loss": 0.69}, {"step": 20, "loss": 0.5 + t / 10}]}})
    (run / "mrdpo" / "round_2" / "model").mkdir()
    (run / "mrdpo" / "round_2" / "model" / "config.json").write_text("{}")
    _write(run / "ablation" / "audio_on" / "report.json", _eval_report(0.6, 0.35, 0.25, 0.03))
    _write(run / "ablation" / "audio_off" / "report.json", _eval_report(0.9, 0.5, 0.4, 0.04))
    # Held-out rows with scripts; with sound the exact captions, muted only the visual sentences.
    scripts = [sample_script((9, i), WorldConfig()) for i in range(4)]
    rows = [{"id": f"h{i}", "script": sc.to_dict()} for i, sc in enumerate(scripts)]
    _write(run / "data" / "heldout" / "train.json", rows)
    for name, caption in (("audio_on", caption_from_script),
                          ("audio_off", lambda sc: " ".join(event_sentence(e) for e in sc.events
                                                            if e.kind in VISUAL_KINDS))):
        (run / "ablation" / name / "captions.jsonl").write_text("".join(
            json.dumps({"id": r["id"], "caption": caption(sc), "error": None}) + "\n" for r, sc in zip(rows, scripts)))
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
    assert report["gdpo"] == [{"round": 0, "vs_sft": None, "miss_vs_sft": None}]
    assert report["audio"] == {"on": None, "off": None} and report["listen"] is None and report["curves"] == {}
    assert report["reliance"] == {"sft": None, "final": None}
    assert "–" in render_markdown(report)


FAKE_PIN = {"ids": ["a", "b"], "total": 0.5, "miss": 0.25, "hall": 0.25, "sound_recall": 0.75, "visual_recall": 0.5}


def test_ship_pins_the_copy_and_copies_the_final_model_and_reports(run, tmp_path, capsys, monkeypatch):
    pinned = []

    def fake_pin(model, workdir):  # the real one captions 8 videos: tests/test_nano_pin.py runs it
        pinned.append(Path(model))
        assert (Path(model) / "config.json").is_file()  # the copy that ships, complete
        return FAKE_PIN

    monkeypatch.setattr("avcap.train.nano_pin.pin_slice", fake_pin)
    dest = tmp_path / "assets" / "nano"
    dest.mkdir(parents=True)
    (dest / "stale.safetensors").write_text("old")
    main([str(run), "--ship", str(dest)])
    assert sorted(p.name for p in dest.iterdir()) == ["TRAINING.md", "config.json", "report.html",
                                                      "training_report.json"]
    shipped = json.loads((dest / "training_report.json").read_text())
    assert shipped["gdpo"][2]["total"] == 0.60 and shipped["pin"] == FAKE_PIN
    assert pinned and pinned[0].name == ".nano.partial"
    assert json.loads((run / "report.json").read_text())["pin"] == FAKE_PIN
    assert "Pinned (tests/test_nano_pin.py)" in (dest / "TRAINING.md").read_text()
    assert (dest / "report.html").read_text().startswith("<!doctype html>")
    assert "MrDPO round 2" in capsys.readouterr().out


def test_report_keeps_loss_curves_miss_trajectory_and_recall_with_and_without_sound(run):
    report = build_report(run)
    curves = report["curves"]
    assert curves["align"] == [[10, 3.0], [20, 2.5]] and curves["sft"] == [[100, 1.5], [200, 0.4]]
    assert curves["gDPO round 2"] == [[10, 0.69], [20, 0.7]] and "DPO round 1" in curves
    assert [r["miss_vs_sft"] for r in report["gdpo"]] == pytest.approx([0.0, -0.1, -0.1])
    listen = report["listen"]
    assert listen["with_sound"]["recall"]["sound"]["recall"] == 1.0
    assert listen["muted"]["recall"]["sound"]["recall"] == 0.0 and listen["muted"]["recall"]["visual"]["recall"] == 1.0
    assert listen["with_sound"]["videos"] == 4
    text = render_markdown(report)
    sound_line = next(x for x in text.splitlines() if x.startswith("| **all sounds** |"))
    assert sound_line.split("|")[3:5] == [" 100.0% ", " 0.0% "]  # with sound, then muted
    assert "| MrDPO round 1 (gDPO) | 70.0% | 40.0% | 30.0% | -12.5% | -10.0 | 101 |" in text
    page = (run / "report.html")
    main([str(run)])
    html = page.read_text()
    assert html.startswith("<!doctype html>") and html.count("<svg") == 7  # align, sft, 2 MrDPO, 2 bars, recall
    assert html.count("<polyline") == 2 + 2 + 2 and "recall per event kind" in html


def test_loss_history_is_thinned_to_a_plot_keeping_the_last_step():
    history = [{"step": i, "loss": 1 / i} for i in range(1, 1001)]
    points = loss_history({"train": {"log_history": history}})
    assert len(points) <= MAX_CURVE_POINTS + 1 and points[0] == [1, 1.0] and points[-1] == [1000, 1 / 1000]
    assert loss_history({}) == []


def test_readme_block_is_rewritten_from_the_report(run, tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nintro\n{README_START}\n| typed | 1 % |\n{README_END}\n\nafter\n")
    main([str(run), "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("# x\n\nintro\n") and text.endswith("\n\nafter\n") and "typed" not in text
    assert readme_block_of(text) == render_readme_block(build_report(run))
    assert "rewritten" in capsys.readouterr().out
    main([str(run), "--readme", str(readme)])
    assert "already up to date" in capsys.readouterr().out and readme.read_text() == text
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit):
        main([str(run), "--readme", str(readme)])
    assert "nano-evidence:start" in capsys.readouterr().err


def test_readme_block_from_a_shipped_report_without_a_run(run, tmp_path, capsys):
    report_path = tmp_path / "training_report.json"
    report_path.write_text(json.dumps(build_report(run)))
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n")
    main(["--from", str(report_path), "--readme", str(readme)])
    assert readme_block_of(readme.read_text()) == render_readme_block(json.loads(report_path.read_text()))
    assert not (tmp_path / "report.json").exists()  # nothing but the README is written
    for bad in (["--from", str(report_path)], [str(run), "--from", str(report_path), "--readme", str(readme)], []):
        with pytest.raises(SystemExit):
            main(bad)


def test_a_variant_run_gets_its_rows_and_can_be_the_final_model(run):
    """An MrDPO variant from the same SFT model (mrdpo_lam1: gDPO with λ = 1) is reported beside the
    main run, measured against the main run's SFT numbers, and `final` picks whose model ships."""
    name = "mrdpo_lam1"
    _write(run / name / "report.json", {"rounds": 1, "final_model": str(run / name / "round_1" / "model")})
    _write(run / name / "round_1" / "report.json", {"eval": {"total": 0.56, "miss": 0.45, "hall": 0.11},
                                                     "pairs": {"pairs": 90}})
    report = build_report(run, final=name)
    rows = report["gdpo_lam1"]
    assert rows[1]["total"] == 0.56 and rows[1]["vs_sft"] == pytest.approx(-0.30)
    assert rows[1]["miss_vs_sft"] == pytest.approx(-0.05)  # against the main run's SFT miss (0.5)
    assert report["final_model"].endswith("mrdpo_lam1/round_1/model")
    assert "MrDPO round 1 (gDPO λ=1)" in render_markdown(report)
    assert "gdpo_lam1" not in build_report(run.parent / "empty")  # no such run: no rows
