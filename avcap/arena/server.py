"""``avcap arena serve`` as a function: config → catalog + store + app → uvicorn."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from avcap.errors import ConfigError, DataError


@dataclass
class ServeConfig:
    captions: list[str] = field(metadata={"help": "caption files (PATH or NAME=PATH), two models at least"})
    videos: Path = field(metadata={"help": "folder the videos are served from (nothing outside it is)"})
    db: Path = field(metadata={"help": "SQLite file of matchups and votes (made if missing, resumed if present)"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to listen on"})
    port: int = field(default=8000, metadata={"help": "TCP port"})
    gold: Path | None = field(default=None, metadata={"help": "gold pairs JSONL (avcap arena gold)"})
    gold_every: int = field(default=5, metadata={"help": "every N-th matchup of a voter is a gold pair (0: never)"})
    admin_token_env: str = field(default="AVCAP_ARENA_ADMIN_TOKEN",
                                 metadata={"help": "environment variable holding the admin token"})
    eval_report: Path | None = field(default=None, metadata={"help": "avcap eval report.json to show beside"})
    rounds: int = field(default=1000, metadata={"help": "bootstrap rounds on the leaderboard"})
    min_agreement: float | None = field(default=None, metadata={"help": "exclude voters below this gold agreement"})
    min_gold_votes: int = field(default=3, metadata={"help": "gold answers needed before a voter can be excluded"})
    secure_cookies: bool = field(default=False, metadata={"help": "mark cookies Secure (behind HTTPS)"})

    def __post_init__(self) -> None:
        if len(self.captions) < 2:
            raise ConfigError("--captions needs caption files from at least two models")
        if not 0 < self.port < 65536:
            raise ConfigError(f"--port must be in 1..65535, got {self.port}")
        if self.gold_every < 0:
            raise ConfigError(f"--gold-every must be >= 0, got {self.gold_every}")
        if self.rounds < 1:
            raise ConfigError(f"--rounds must be >= 1, got {self.rounds}")
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise ConfigError(f"--min-agreement must be in [0, 1], got {self.min_agreement}")
        if self.min_gold_votes < 1:
            raise ConfigError(f"--min-gold-votes must be >= 1, got {self.min_gold_votes}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_report(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read the eval report ({err})") from None
    if not isinstance(report, dict) or "caption_sets" not in report:
        raise DataError(f"{path}: not an `avcap eval` report.json (no 'caption_sets')")
    return report


def build(config: ServeConfig):
    """``(asgi_app, catalog, store)`` for ``config``; DataError / ConfigError on bad input."""
    from avcap.arena.app import ArenaApp, ArenaSettings
    from avcap.arena.catalog import load_catalog, parse_source
    from avcap.arena.store import ArenaStore

    catalog = load_catalog([parse_source(c) for c in config.captions], config.videos, config.gold)
    if config.gold is not None and not catalog.gold:
        raise DataError(f"{config.gold}: no usable gold pair")
    token = os.environ.get(config.admin_token_env) or None
    settings = ArenaSettings(admin_token=token, gold_every=config.gold_every if catalog.gold else 0,
                             rounds=config.rounds, min_agreement=config.min_agreement,
                             min_gold_votes=config.min_gold_votes, report=load_report(config.eval_report),
                             secure_cookies=config.secure_cookies)
    store = ArenaStore(config.db)
    store.set_meta("videos_root", str(catalog.root))
    store.set_meta("sources", json.dumps(catalog.sources))
    return ArenaApp(catalog, store, settings).app, catalog, store


def serve(config: ServeConfig, echo=print) -> None:
    import uvicorn

    app, catalog, store = build(config)
    for warning in catalog.warnings:
        echo(f"warning: {warning}")
    protected = bool(os.environ.get(config.admin_token_env))
    if not is_loopback(config.host) and not protected:
        echo(f"warning: listening on {config.host} with an open leaderboard; set {config.admin_token_env} to "
             "protect it and its exports")
    echo(f"avcap arena: {len(catalog.models)} models ({', '.join(catalog.models)}), {len(catalog.videos)} videos, "
         f"{catalog.n_pairs} pairs, {len(catalog.gold)} gold; {store.vote_count()} votes so far in {config.db}")
    echo(f"vote at http://{config.host}:{config.port}/  ·  leaderboard at http://{config.host}:{config.port}/leaderboard"
         + (" (admin token)" if protected else ""))
    try:
        # One process: the scheduler's balance counts live in it (the database stays correct anyway).
        uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)
    finally:
        store.close()
