"""``avcap arena``: blind pairwise votes in a web page, rankings, preference rows."""

from __future__ import annotations

import json
from pathlib import Path

import typer

arena_app = typer.Typer(
    help=("Blind pairwise votes between captioners: serve a vote page, rank the models (Elo, Bradley–Terry "
          "with bootstrap intervals, length-controlled BT), export votes and DPO preference rows.\n\n"
          "\b\nFrom the demo's outputs:\n"
          "  avcap demo    # captions with sound and muted: demo_out/captions.jsonl, captions_muted.jsonl\n"
          "  avcap arena gold --data demo_out/demo.json --out demo_out/gold.jsonl\n"
          "  avcap arena serve --captions demo_out/captions.jsonl demo_out/captions_muted.jsonl \\\n"
          "      --videos demo_out/videos --db demo_out/arena.sqlite --gold demo_out/gold.jsonl\n"
          "  avcap arena rank --db demo_out/arena.sqlite --eval-report demo_out/report/report.json"),
    no_args_is_help=True,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"avcap arena: {message}", err=True)
    return typer.Exit(code)


@arena_app.command("serve", no_args_is_help=True)
def serve_command(
    more_captions: list[str] = typer.Argument(None, metavar="[MORE_CAPTIONS]...", show_default=False,
                                              help="More caption files, as in --captions A.jsonl B.jsonl."),
    captions: list[str] = typer.Option([], "--captions", "-c",
                                       help="Caption files (avcap caption output), PATH or NAME=PATH; the model is "
                                            "named by the file's stem unless NAME= is given."),
    videos: Path = typer.Option(..., "--videos", help="Folder of the videos; nothing outside it is served."),
    db: Path = typer.Option(Path("arena.sqlite"), "--db", help="SQLite file of votes (resumed if it exists)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for a LAN)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    gold: Path = typer.Option(None, "--gold", help="Gold pairs JSONL from `avcap arena gold` (voter checks)."),
    gold_every: int = typer.Option(5, "--gold-every", help="Every N-th matchup of a voter is a gold pair (0: never)."),
    admin_token_env: str = typer.Option("AVCAP_ARENA_ADMIN_TOKEN", "--admin-token-env",
                                        help="Env variable with the admin token for leaderboard and export "
                                             "(unset: open)."),
    eval_report: Path = typer.Option(None, "--eval-report", help="`avcap eval` report.json: Total/Miss/Hall per model."),
    rounds: int = typer.Option(1000, "--rounds", help="Bootstrap rounds on the leaderboard."),
    min_agreement: float = typer.Option(None, "--min-agreement", help="Leave out voters below this gold agreement."),
    min_gold_votes: int = typer.Option(3, "--min-gold-votes", help="Gold answers before a voter can be left out."),
) -> None:
    """Serve the vote page: a video and two anonymous captions, vote left / right / tie / both bad.

    \b
    Example:
      avcap arena serve --captions demo_out/captions.jsonl demo_out/captions_muted.jsonl \\
          --videos demo_out/videos --db demo_out/arena.sqlite --gold demo_out/gold.jsonl
    then open http://127.0.0.1:8000/ (keys 1/2/3/4) and http://127.0.0.1:8000/leaderboard.
    """
    from avcap.errors import AvcapError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:  # pragma: no cover - the serve extra is missing
        raise _fail(f"needs the serve extra ({err}): pip install 'avcap[serve]'") from None
    from avcap.arena.server import ServeConfig, serve

    try:
        config = ServeConfig(captions=[*captions, *(more_captions or [])], videos=videos, db=db, host=host,
                             port=port, gold=gold, gold_every=gold_every, admin_token_env=admin_token_env,
                             eval_report=eval_report, rounds=rounds, min_agreement=min_agreement,
                             min_gold_votes=min_gold_votes)
        serve(config, echo=lambda m: typer.echo(m, err=True))
    except AvcapError as err:
        raise _fail(str(err)) from None
    except OSError as err:  # e.g. the port is taken
        raise _fail(f"cannot serve on {host}:{port}: {err}", 1) from None


@arena_app.command("rank", no_args_is_help=True)
def rank_command(
    db: Path = typer.Option(..., "--db", help="Arena SQLite file."),
    eval_report: Path = typer.Option(None, "--eval-report", help="`avcap eval` report.json to set beside the votes."),
    out_json: Path = typer.Option(None, "--json", help="Write the whole leaderboard as JSON here."),
    out_csv: Path = typer.Option(None, "--csv", help="Write one CSV row per model here."),
    rounds: int = typer.Option(1000, "--rounds", min=1, help="Bootstrap rounds."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    min_agreement: float = typer.Option(None, "--min-agreement", min=0.0, max=1.0,
                                        help="Leave out voters whose gold agreement is below this."),
    min_gold_votes: int = typer.Option(3, "--min-gold-votes", min=1, help="Gold answers before a voter can be left out."),
    drop_ties: bool = typer.Option(False, "--drop-ties", help="Ignore ties and both-bad (default: half a win each)."),
) -> None:
    """Rank the models from the votes: Elo (paper), Bradley–Terry [95 % CI], length-controlled BT.

    \b
    Example:
      avcap arena rank --db demo_out/arena.sqlite --eval-report demo_out/report/report.json --csv board.csv
    """
    from avcap.arena.export import leaderboard_csv
    from avcap.arena.ranking import leaderboard
    from avcap.arena.server import load_report
    from avcap.arena.store import open_existing
    from avcap.data import atomic_write_json, atomic_write_text
    from avcap.errors import AvcapError

    try:
        store = open_existing(db)
        sources = json.loads(store.get_meta("sources") or "{}")
        board = leaderboard(store.votes(), report=load_report(eval_report), sources=sources, rounds=rounds, seed=seed,
                            min_agreement=min_agreement, min_gold_votes=min_gold_votes, drop_ties=drop_ties)
        store.close()
    except AvcapError as err:
        raise _fail(str(err)) from None
    _print_board(board)
    if out_json:
        atomic_write_json(out_json, board)
    if out_csv:
        atomic_write_text(out_csv, leaderboard_csv(board))


def _print_board(board: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    console.print(f"{board['n_ranked']} votes ranked of {board['n_votes']} ({board['n_gold']} gold), "
                  f"{board['n_voters'] - board['n_excluded_voters']} of {board['n_voters']} voters")
    if not board["models"]:
        console.print("no votes to rank")
        return
    table = Table()
    for col in ("model", "votes", "W/T/B/L", "BT [95% CI]", "rank", "length-ctrl BT [95% CI]", "Elo (paper)",
                "Total", "Miss", "Hall"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in board["models"]:
        bt, lc, m = r["bt"], r["bt_length_controlled"], r["metrics"]
        table.add_row(r["model"], str(r["votes"]), f"{r['wins']}/{r['ties']}/{r['both_bad']}/{r['losses']}",
                      f"{bt['rating']:.0f} [{bt['low']:.0f}, {bt['high']:.0f}]", str(bt["rank"]),
                      f"{lc['rating']:.0f} [{lc['low']:.0f}, {lc['high']:.0f}]", f"{r['elo']['rating']:.0f}",
                      *((f"{100 * m[k]:.1f}%" for k in ("total", "miss", "hall")) if m else ("-", "-", "-")))
    console.print(table)
    le = board["length_effect"]
    console.print(f"length effect: {le['gamma']:+.3f} log-odds per RMS of relative length difference "
                  f"[{le['low']:+.3f}, {le['high']:+.3f}] = {le['points']:+.0f} points; longer caption of equal "
                  f"models wins {100 * le['p_longer_wins']:.0f}%")
    if board["correlation"]:
        c = board["correlation"]
        console.print("rank correlation with -Total: " + ", ".join(
            f"{name} Spearman {c[key]['spearman'] if c[key]['spearman'] is None else round(c[key]['spearman'], 2)}"
            for key, name in (("bt", "BT"), ("bt_length_controlled", "LC-BT"), ("elo", "Elo"))))
    checked = [v for v in board["voters"] if v["gold_votes"]]
    if checked:
        console.print(f"gold agreement: {len(checked)} voters checked, "
                      + ", ".join(f"{v['voter'][:8]} {100 * v['agreement']:.0f}%{' (excluded)' if v['excluded'] else ''}"
                                  for v in checked[:10]) + (" ..." if len(checked) > 10 else ""))


@arena_app.command("pairs", no_args_is_help=True)
def pairs_command(
    db: Path = typer.Option(..., "--db", help="Arena SQLite file."),
    out: Path = typer.Option(..., "--out", "-o", help="Preference rows JSONL (input of `avcap train dpo`)."),
    data: Path = typer.Option(None, "--data", help="Dataset the videos come from: rows keep its prompt, ground "
                                                  "truth (for gDPO) and events."),
    videos: Path = typer.Option(None, "--videos", help="Videos folder (default: the one the arena served)."),
    min_margin: int = typer.Option(1, "--min-margin", min=1, help="Decisive votes one side must lead by."),
    min_agreement: float = typer.Option(None, "--min-agreement", min=0.0, max=1.0,
                                        help="Leave out voters whose gold agreement is below this."),
    min_gold_votes: int = typer.Option(3, "--min-gold-votes", min=1, help="Gold answers before a voter can be left out."),
) -> None:
    """Export decisive votes as DPO preference rows (chosen = the caption voters preferred).

    \b
    Example:
      avcap arena pairs --db demo_out/arena.sqlite --data demo_out/demo.json -o demo_out/arena_pairs.jsonl
      avcap train dpo --data demo_out/arena_pairs.jsonl ...
    """
    from avcap.arena.export import preference_rows
    from avcap.arena.qc import ranked_votes, voter_stats
    from avcap.arena.store import open_existing
    from avcap.data import atomic_write_text, load_dataset
    from avcap.errors import AvcapError

    try:
        store = open_existing(db)
        root = videos or (Path(store.get_meta("videos_root")) if store.get_meta("videos_root") else None)
        if root is None:
            raise _fail("the database does not say where the videos are: pass --videos")
        all_votes = store.votes()
        paths = {r["video"]: r["video_path"] for r in store.vote_records()}
        store.close()
        # the media are only named here, never opened: the dataset's rows may point anywhere
        rows = load_dataset(data, allow_outside_paths=True).by_id() if data else None
        votes = ranked_votes(all_votes, voter_stats(all_votes, min_agreement, min_gold_votes))
        prefs = preference_rows(votes, paths, root.resolve(), rows, min_margin, out_dir=out.resolve().parent)
    except AvcapError as err:
        raise _fail(str(err)) from None
    atomic_write_text(out, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prefs))
    missing = sum(1 for p in prefs if rows is not None and p["source_id"] not in rows)
    typer.echo(f"wrote {len(prefs)} preference rows from {len(votes)} ranked votes to {out}"
               + (f" ({missing} videos not in {data})" if missing else ""))
    outside = sum(1 for p in prefs if Path(p.get("video", "")).is_absolute())
    if outside:
        typer.echo(f"note: {outside} rows name videos outside {out.resolve().parent}; train with "
                   f"--media_root {root.resolve()} (avcap train dpo confines media to the data file's folder)")


@arena_app.command("gold", no_args_is_help=True)
def gold_command(
    data: Path = typer.Option(..., "--data", help="Dataset with ground-truth captions (e.g. demo_out/demo.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="Gold pairs JSONL for `avcap arena serve --gold`."),
    seed: int = typer.Option(0, "--seed", help="Seed of the corruptions."),
) -> None:
    """Make gold pairs: each video's ground truth against a corrupted copy (events dropped, a colour changed).

    \b
    Example:
      avcap arena gold --data demo_out/demo.json --out demo_out/gold.jsonl
    """
    from avcap.arena.gold import gold_rows
    from avcap.data import atomic_write_text, load_dataset
    from avcap.errors import AvcapError

    try:
        dataset = load_dataset(data, allow_outside_paths=True)  # videos are named, not opened; serve confines them
    except AvcapError as err:
        raise _fail(str(err)) from None
    rows, skipped = gold_rows(dataset.rows, seed)
    for line in [*map(str, dataset.errors), *skipped][:5]:
        typer.echo(f"skipped: {line}", err=True)
    if not rows:
        raise _fail(f"{data}: no row could become a gold pair", 1)
    atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    typer.echo(f"wrote {len(rows)} gold pairs to {out}")


@arena_app.command("export", no_args_is_help=True)
def export_command(
    db: Path = typer.Option(..., "--db", help="Arena SQLite file."),
    out: Path = typer.Option(..., "--out", "-o", help="votes.csv or votes.json (format from the suffix)."),
) -> None:
    """Export every vote (voter token, time, video, both models, sides, answer, both captions).

    \b
    Example:
      avcap arena export --db demo_out/arena.sqlite -o votes.csv
    """
    from avcap.arena.export import votes_csv
    from avcap.arena.store import open_existing
    from avcap.data import atomic_write_json, atomic_write_text
    from avcap.errors import AvcapError

    if out.suffix.lower() not in (".csv", ".json"):
        raise _fail(f"{out}: the output must end in .csv or .json")
    try:
        store = open_existing(db)
        records = store.vote_records()
        store.close()
    except AvcapError as err:
        raise _fail(str(err)) from None
    if out.suffix.lower() == ".csv":
        atomic_write_text(out, votes_csv(records))
    else:
        atomic_write_json(out, records)
    typer.echo(f"wrote {len(records)} votes to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(arena_app, name="arena")
