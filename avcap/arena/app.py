"""The arena web app (Starlette on uvicorn): a blind vote page, media, leaderboard, export.

Routes::

    GET  /                      vote page (gives the browser an anonymous voter cookie)
    POST /api/next              the voter's next matchup: video URL + two captions, no names
    POST /api/vote              {"matchup": token, "answer": "left"|"right"|"tie"|"bad"}
    GET  /media/<path>          a catalog video, with HTTP range requests (Starlette FileResponse)
    GET  /leaderboard           ratings page            } admin token, when one is set
    GET  /api/leaderboard       the same as JSON        }
    GET  /export/votes.csv|json, /export/leaderboard.csv|json
    POST /admin/login           admin token -> cookie
    GET  /healthz

Safety: the voter cookie is signed, HttpOnly and SameSite=Strict; both POST endpoints need
``Content-Type: application/json``, an ``X-Arena-CSRF`` header equal to an HMAC of the voter
token (a cross-site page can neither read it nor send a custom header without a CORS
preflight, which this app never grants) and, when the browser sends one, an ``Origin`` equal
to the page's own. Bodies over 4 KiB are refused before they are read in full. Media is served
only for catalog videos, resolved inside the videos folder. A CSP without inline script, and
``frame-ancestors 'none'`` against click-jacking of the vote buttons.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from avcap.arena.catalog import Catalog
from avcap.arena.export import leaderboard_csv, votes_csv
from avcap.arena.ranking import leaderboard
from avcap.arena.schedule import Scheduler
from avcap.arena.store import AlreadyVoted, ArenaStore, UnknownMatchup
from avcap.arena.votes import ANSWERS

HERE = Path(__file__).parent
MAX_BODY = 4096
VOTER_COOKIE, ADMIN_COOKIE = "avcap_voter", "avcap_admin"
CSRF_HEADER = "x-arena-csrf"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; media-src 'self'; "
                                 b"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


@dataclass
class ArenaSettings:
    """What the app needs besides the catalog and the store."""

    admin_token: str | None = None  # None: leaderboard and export are open
    gold_every: int = 0
    rounds: int = 1000  # bootstrap rounds on the leaderboard
    min_agreement: float | None = None
    min_gold_votes: int = 1
    report: dict | None = None  # an `avcap eval` report.json
    seed: int | None = None  # scheduler seed (tests); None draws from the OS
    secure_cookies: bool = False  # set when served behind HTTPS
    title: str = "avcap arena"


class _SecurityHeaders:
    """Pure ASGI middleware: adds the headers above to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _BodyTooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _BodyTooLarge
    return body


class ArenaApp:
    def __init__(self, catalog: Catalog, store: ArenaStore, settings: ArenaSettings | None = None):
        self.catalog, self.store = catalog, store
        self.settings = settings or ArenaSettings()
        self.secret = store.secret().encode()
        self.scheduler = Scheduler(catalog, store, self.settings.gold_every, self.settings.seed)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))
        self._board_cache: tuple[int, dict] | None = None
        routes = [
            Route("/", self.page),
            Route("/api/next", self.next_matchup, methods=["POST"]),
            Route("/api/vote", self.vote, methods=["POST"]),
            Route("/media/{path:path}", self.media, methods=["GET", "HEAD"]),
            Route("/leaderboard", self.leaderboard_page),
            Route("/api/leaderboard", self.leaderboard_json),
            Route("/export/{name}", self.export),
            Route("/admin/login", self.admin_login, methods=["POST"]),
            Route("/healthz", lambda request: PlainTextResponse("ok")),
            Route("/favicon.ico", lambda request: Response(status_code=204)),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        self.app = _SecurityHeaders(Starlette(routes=routes))

    # --- tokens ---------------------------------------------------------------------------

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    def _voter(self, request: Request) -> str | None:
        cookie = request.cookies.get(VOTER_COOKIE, "")
        voter, _, sig = cookie.partition(".")
        if not voter or len(voter) > 64 or not hmac.compare_digest(sig, self._sign("voter", voter)):
            return None
        return voter

    def csrf_token(self, voter: str) -> str:
        return self._sign("csrf", voter)

    def _check_post(self, request: Request) -> tuple[str | None, Response | None]:
        """The voter of a state-changing request, or the 4xx response that refuses it."""
        voter = self._voter(request)
        if voter is None:
            return None, _error(403, "no voter cookie: open the arena page first")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return None, _error(403, "cross-origin request refused")
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), self.csrf_token(voter)):
            return None, _error(403, "missing or wrong CSRF token")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return None, _error(415, "the body must be application/json")
        return voter, None

    def _is_admin(self, request: Request) -> bool:
        token = self.settings.admin_token
        if not token:
            return True
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), token.encode()):
            return True
        return hmac.compare_digest(request.cookies.get(ADMIN_COOKIE, ""), self._sign("admin", token))

    # --- voting ---------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        voter = self._voter(request)
        fresh = voter is None
        if fresh:
            voter = secrets.token_urlsafe(18)
        html = self.templates.get_template("vote.html").render(title=self.settings.title,
                                                               csrf=self.csrf_token(voter))
        response = HTMLResponse(html, headers={"cache-control": "no-store"})
        if fresh:
            response.set_cookie(VOTER_COOKIE, f"{voter}.{self._sign('voter', voter)}", max_age=3600 * 24 * 365,
                                httponly=True, samesite="strict", secure=self.settings.secure_cookies)
        return response

    async def next_matchup(self, request: Request) -> Response:
        voter, refusal = self._check_post(request)
        if refusal is not None:
            return refusal
        try:
            await _read_body(request)
        except _BodyTooLarge:
            return _error(413, f"body over {MAX_BODY} bytes")
        try:
            nxt = await run_in_threadpool(self.scheduler.next_for, voter)
        except AlreadyVoted:
            return _error(409, "pair already shown to this voter; ask again")
        if nxt.matchup is None:
            return JSONResponse({"done": True})
        m = nxt.matchup
        return JSONResponse({"matchup": m.token, "video": "/media/" + quote(m.video_path),
                             "left": m.caption_left, "right": m.caption_right, "remaining": nxt.remaining},
                            headers={"cache-control": "no-store"})

    async def vote(self, request: Request) -> Response:
        voter, refusal = self._check_post(request)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(await _read_body(request))
        except _BodyTooLarge:
            return _error(413, f"body over {MAX_BODY} bytes")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict) or set(body) != {"matchup", "answer"}:
            return _error(422, "expected exactly the fields 'matchup' and 'answer'")
        token, answer = body["matchup"], body["answer"]
        if not isinstance(token, str) or not 0 < len(token) <= 64:
            return _error(422, "'matchup' must be a matchup token")
        if answer not in ANSWERS:
            return _error(422, f"'answer' must be one of {', '.join(ANSWERS)}")
        try:
            count = await run_in_threadpool(self.store.record_vote, voter, token, answer)
        except UnknownMatchup:
            return _error(404, "unknown matchup")
        except AlreadyVoted:
            return _error(409, "already voted on this pair")
        return JSONResponse({"ok": True, "votes": count})

    async def media(self, request: Request) -> Response:
        path = self.catalog.media_path(request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)  # Range / If-Range / 206 / 416 handled by Starlette

    # --- results --------------------------------------------------------------------------

    def board(self) -> dict:
        """The leaderboard, recomputed only when a vote arrived since the last one."""
        n = self.store.vote_count()
        if self._board_cache is None or self._board_cache[0] != n:
            s = self.settings
            board = leaderboard(self.store.votes(), report=s.report, sources=self.catalog.sources, rounds=s.rounds,
                                min_agreement=s.min_agreement, min_gold_votes=s.min_gold_votes)
            board["computed_at"] = time.time()
            self._board_cache = (n, board)
        return self._board_cache[1]

    def _login_page(self, status: int = 401) -> Response:
        html = self.templates.get_template("login.html").render(title=self.settings.title)
        return HTMLResponse(html, status_code=status)

    async def leaderboard_page(self, request: Request) -> Response:
        if not self._is_admin(request):
            return self._login_page()
        board = await run_in_threadpool(self.board)
        html = self.templates.get_template("leaderboard.html").render(title=self.settings.title, board=board)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    async def leaderboard_json(self, request: Request) -> Response:
        if not self._is_admin(request):
            return _error(401, "admin token required")
        return JSONResponse(await run_in_threadpool(self.board))

    async def export(self, request: Request) -> Response:
        if not self._is_admin(request):
            return _error(401, "admin token required")
        name = request.path_params["name"]
        if name == "votes.csv":
            text = votes_csv(await run_in_threadpool(self.store.vote_records))
            return Response(text, media_type="text/csv", headers={"content-disposition": "attachment"})
        if name == "votes.json":
            return JSONResponse(await run_in_threadpool(self.store.vote_records))
        if name == "leaderboard.csv":
            text = leaderboard_csv(await run_in_threadpool(self.board))
            return Response(text, media_type="text/csv", headers={"content-disposition": "attachment"})
        if name == "leaderboard.json":
            return JSONResponse(await run_in_threadpool(self.board))
        return _error(404, "unknown export")

    async def admin_login(self, request: Request) -> Response:
        token = self.settings.admin_token
        try:
            form = parse_qs((await _read_body(request)).decode("utf-8", "replace"))
        except _BodyTooLarge:
            return _error(413, f"body over {MAX_BODY} bytes")
        given = (form.get("token") or [""])[0]
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return self._login_page(403)
        response = RedirectResponse("/leaderboard", status_code=303)
        response.set_cookie(ADMIN_COOKIE, self._sign("admin", token), httponly=True, samesite="strict",
                            secure=self.settings.secure_cookies)
        return response


def create_app(catalog: Catalog, store: ArenaStore, settings: ArenaSettings | None = None):
    """The ASGI application (``uvicorn.run(create_app(...))``)."""
    return ArenaApp(catalog, store, settings).app
