"""`avcap arena rank / pairs / gold / export`, and serve's refusals, through the real CLI."""

import json

import pytest
from typer.testing import CliRunner

from avcap.arena.catalog import load_catalog
from avcap.arena.schedule import Scheduler
from avcap.arena.store import ArenaStore
from avcap.cli import app
from tests.arena.conftest import make_files

runner = CliRunner()


@pytest.fixture(scope="module")
def voted(tmp_path_factory):
    """A database with votes from two honest voters and one who fails the gold pairs."""
    root = tmp_path_factory.mktemp("cli")
    files = make_files(root, 4, ["good", "bad"])
    gold = root / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": i, "better": f"right {i}", "worse": f"wrong {i}"}) + "\n"
                            for i in files.ids))
    catalog = load_catalog(list((m, p) for m, p in files.captions.items()), files.videos, gold)
    db = root / "arena.sqlite"
    store = ArenaStore(db)
    store.set_meta("videos_root", str(catalog.root))
    store.set_meta("sources", json.dumps(catalog.sources))
    sched = Scheduler(catalog, store, gold_every=2, seed=0)
    for voter, honest in (("h1", True), ("h2", True), ("liar", False)):
        while (m := sched.next_for(voter).matchup) is not None:
            better = {"good", "gold:better"}
            left_better = m.model_left in better
            answer = "left" if left_better == honest else "right"
            store.record_vote(voter, m.token, answer)
    store.close()
    data = root / "data.json"
    data.write_text(json.dumps([{"id": i, "video": f"videos/{i}.mp4", "conversations": [
        {"from": "human", "value": "<video>\nDescribe."}, {"from": "gpt", "value": f"truth {i}"}]} for i in files.ids]))
    report = root / "report.json"
    report.write_text(json.dumps({"caption_sets": [
        {"name": "good", "path": str(files.captions["good"]), "metrics": {"salmonn2": {"n_scored": 4, "total": 0.3, "miss": 0.2, "hall": 0.1}}},
        {"name": "bad", "path": str(files.captions["bad"]), "metrics": {"salmonn2": {"n_scored": 4, "total": 0.8, "miss": 0.5, "hall": 0.3}}},
    ]}))
    return root, db, data, report, files


def test_rank_with_exclusion_exports(voted):
    root, db, _, report, _ = voted
    out = runner.invoke(app, ["arena", "rank", "--db", str(db), "--eval-report", str(report), "--rounds", "50",
                              "--json", str(root / "board.json"), "--csv", str(root / "board.csv"),
                              "--min-agreement", "0.5", "--min-gold-votes", "1"])
    assert out.exit_code == 0, out.output
    assert "good" in out.output and "length effect" in out.output and "Spearman" in out.output
    board = json.loads((root / "board.json").read_text())
    assert board["n_excluded_voters"] == 1
    assert [r["model"] for r in board["models"]] == ["good", "bad"]
    assert board["models"][0]["metrics"]["total"] == 0.3
    assert board["correlation"]["bt"]["spearman"] == pytest.approx(1.0)
    assert (root / "board.csv").read_text().startswith("model,votes")
    # without the exclusion the liar's votes cancel the honest ones: a 50/50 split
    plain = runner.invoke(app, ["arena", "rank", "--db", str(db), "--rounds", "20", "--json", str(root / "b2.json")])
    assert plain.exit_code == 0
    assert json.loads((root / "b2.json").read_text())["n_excluded_voters"] == 0


def test_pairs_feed_the_dpo_loader(voted, tmp_path):
    from avcap.train.data import load_rows, preference_items

    root, db, data, _, files = voted
    out = root / "pairs.jsonl"
    res = runner.invoke(app, ["arena", "pairs", "--db", str(db), "--out", str(out), "--data", str(data),
                              "--min-agreement", "0.5", "--min-gold-votes", "1"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(r["scores"]["arena"]["chosen_model"] == "good" for r in rows)
    assert all(r["video"].startswith("videos/") for r in rows) and "note:" not in res.output
    elsewhere = tmp_path / "pairs.jsonl"  # away from the videos: absolute paths and a hint
    res2 = runner.invoke(app, ["arena", "pairs", "--db", str(db), "--out", str(elsewhere)])
    assert res2.exit_code == 0 and "--media_root" in res2.output
    assert len(load_rows(elsewhere, what="preference", media_root=files.videos)) == 4
    items = preference_items(load_rows(out, what="preference"), "p", need_reference=True)
    assert {i.chosen for i in items} == {files.text["good"][v] for v in files.ids}
    assert all(i.reference.startswith("truth") for i in items)


def test_gold_and_export_commands(voted, tmp_path):
    root, db, data, _, _ = voted
    res = runner.invoke(app, ["arena", "export", "--db", str(db), "-o", str(tmp_path / "votes.json")])
    assert res.exit_code == 0, res.output
    votes = json.loads((tmp_path / "votes.json").read_text())
    assert {v["voter"] for v in votes} == {"h1", "h2", "liar"}
    assert runner.invoke(app, ["arena", "export", "--db", str(db), "-o", str(tmp_path / "v.csv")]).exit_code == 0
    assert runner.invoke(app, ["arena", "export", "--db", str(db), "-o", str(tmp_path / "v.txt")]).exit_code == 2
    # "truth i" has one sentence and no colour: too short to corrupt -> nothing to write, exit 1
    assert runner.invoke(app, ["arena", "gold", "--data", str(data), "-o", str(tmp_path / "g.jsonl")]).exit_code == 1


def test_bad_arguments_exit_2(voted, tmp_path):
    _, db, _, _, files = voted
    caps = [str(p) for p in files.captions.values()]
    one = runner.invoke(app, ["arena", "serve", "--captions", caps[0], "--videos", str(files.videos)])
    assert one.exit_code == 2 and "at least two" in one.output
    novid = runner.invoke(app, ["arena", "serve", "--captions", *caps, "--videos", str(tmp_path / "none")])
    assert novid.exit_code == 2 and "videos folder not found" in novid.output
    nodb = runner.invoke(app, ["arena", "rank", "--db", str(tmp_path / "none.sqlite")])
    assert nodb.exit_code == 2 and "not found" in nodb.output
    badrep = tmp_path / "r.json"
    badrep.write_text("[]")
    rep = runner.invoke(app, ["arena", "rank", "--db", str(db), "--eval-report", str(badrep)])
    assert rep.exit_code == 2 and "not an `avcap eval` report" in rep.output
    helps = runner.invoke(app, ["arena", "serve", "--help"])
    assert helps.exit_code == 0 and "avcap arena serve --captions" in helps.output
