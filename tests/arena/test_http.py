"""The served app over real HTTP: validation, CSRF, media confinement and ranges, admin token, export."""

import json
import sqlite3

import pytest

from tests.arena.conftest import ArenaServer, Client, serve_args

TOKEN = "s3cret-admin-token"


@pytest.fixture(scope="module")
def server(files, tmp_path_factory):
    db = tmp_path_factory.mktemp("http") / "arena.sqlite"
    outside = files.videos.parent / "outside.txt"
    outside.write_text("not for you")
    (files.videos / "escape.mp4").symlink_to(outside)
    srv = ArenaServer(serve_args(files, db), env={"AVCAP_ARENA_ADMIN_TOKEN": TOKEN})
    srv.db = db
    yield srv
    srv.stop()


def test_names_hidden_and_vote_stored(server, files):
    c = Client(server.url)
    html = c.open_page()
    for model in files.captions:
        assert model not in html
    status, m = c.next()
    assert status == 200 and set(m) == {"matchup", "video", "left", "right", "remaining"}
    assert not any(model in json.dumps({"matchup": m["matchup"], "video": m["video"]}) for model in files.captions)
    assert c.next()[1]["matchup"] == m["matchup"]  # the open matchup again, not a new one
    assert c.vote(m["matchup"], "tie") == (200, {"ok": True, "votes": 1})
    row = sqlite3.connect(server.db).execute("SELECT answer, caption_left, caption_right FROM votes").fetchone()
    assert row == ("tie", m["left"], m["right"])


def test_replay_unknown_and_malformed_votes_rejected(server):
    c = Client(server.url)
    c.open_page()
    m = c.next()[1]
    assert c.vote(m["matchup"], "left")[0] == 200
    assert c.vote(m["matchup"], "left")[0] == 409  # replay
    assert c.vote(m["matchup"], "right")[0] == 409  # changing one's mind is a replay too
    assert c.vote("not-a-real-token", "left")[0] == 404
    assert c.vote("", "left")[0] == 422
    assert c.vote("x" * 500, "left")[0] == 422
    m2 = c.next()[1]
    assert c.vote(m2["matchup"], "maybe")[0] == 422
    assert c.post_json("/api/vote", {"matchup": m2["matchup"]})[0] == 422
    assert c.post_json("/api/vote", {"matchup": m2["matchup"], "answer": "left", "extra": 1})[0] == 422
    assert c.post_json("/api/vote", [m2["matchup"], "left"])[0] == 422
    assert c.post_json("/api/vote", b"{not json")[0] == 400
    assert c.post_json("/api/vote", b"\xff\xfe")[0] == 400
    big = json.dumps({"matchup": m2["matchup"], "answer": "left", "pad": "x" * 10000}).encode()
    assert c.post_json("/api/vote", big)[0] == 413
    # another voter cannot answer my matchup
    other = Client(server.url)
    other.open_page()
    assert other.vote(m2["matchup"], "left")[0] == 404
    assert c.vote(m2["matchup"], "bad")[0] == 200


def test_csrf_and_cookie_checks(server):
    c = Client(server.url)
    c.open_page()
    real = c.csrf
    c.csrf = "0" * 32
    assert c.next()[0] == 403  # wrong token
    c.csrf = real
    assert c.post_json("/api/next", {}, headers={"Origin": "http://evil.example"})[0] == 403
    status, _, _ = c.request("POST", "/api/next", b"{}", {"Content-Type": "text/plain", "X-Arena-CSRF": real})
    assert status == 415  # a simple (form-like) cross-site request cannot be JSON
    anon = Client(server.url)
    anon.csrf = real
    assert anon.next()[0] == 403  # no cookie
    forged = Client(server.url)
    forged.cookie, forged.csrf = "avcap_voter=someone.deadbeef", real
    assert forged.next()[0] == 403
    status, headers, _ = c.request("GET", "/")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    status, headers, _ = Client(server.url).request("GET", "/")
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=strict" in headers["set-cookie"]
    assert Client(server.url).request("GET", "/api/vote")[0] == 405


def test_media_confined_to_the_folder(server, files):
    c = Client(server.url)
    ok, headers, body = c.request("GET", "/media/v001.mp4")
    assert ok == 200 and headers["accept-ranges"] == "bytes"
    assert body == (files.videos / "v001.mp4").read_bytes()
    for path in ("../outside.txt", "%2e%2e/outside.txt", "..%2Foutside.txt", "%2Fetc%2Fpasswd", "/etc/passwd",
                 "escape.mp4", "v001.mp4%00", "sub/../v001.mp4", ".%2Fv001.mp4", "..%5Coutside.txt",
                 "captions.jsonl", "alpha.jsonl", f"{files.videos}/v001.mp4"):
        status = c.request("GET", "/media/" + path)[0]
        assert status == 404, path
    assert c.request("GET", "/static/../store.py")[0] == 404


def test_range_requests_seek(server, files):
    data = (files.videos / "v002.mp4").read_bytes()
    c = Client(server.url)
    status, headers, body = c.request("GET", "/media/v002.mp4", headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(data)}"
    status, _, body = c.request("GET", "/media/v002.mp4", headers={"Range": f"bytes={len(data) - 10}-"})
    assert status == 206 and body == data[-10:]
    assert c.request("GET", "/media/v002.mp4", headers={"Range": f"bytes={len(data) + 5}-"})[0] == 416


def test_admin_token_guards_leaderboard_and_export(server):
    c = Client(server.url)
    assert c.request("GET", "/api/leaderboard")[0] == 401
    assert c.request("GET", "/export/votes.csv")[0] == 401
    status, _, body = c.request("GET", "/leaderboard")
    assert status == 401 and b'name="token"' in body  # the login form
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert c.request("GET", "/api/leaderboard", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert c.request("GET", "/api/leaderboard", headers={"Authorization": TOKEN})[0] == 401  # not "Bearer"
    status, _, body = c.request("GET", "/api/leaderboard", headers=bearer)
    board = json.loads(body)
    assert status == 200 and board["n_votes"] >= 1 and board["params"]["rounds"] == 50
    status, headers, body = c.request("GET", "/export/votes.csv", headers=bearer)
    assert status == 200 and body.decode().startswith("id,voter,time,video")
    assert c.request("GET", "/export/leaderboard.csv", headers=bearer)[0] == 200
    assert c.request("GET", "/export/nope", headers=bearer)[0] == 404
    bad, _, _ = c.request("POST", "/admin/login", b"token=nope", {"Content-Type": "application/x-www-form-urlencoded"})
    assert bad == 403


def test_login_cookie_opens_the_page(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/admin/login", f"token={TOKEN}", {"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 303 and resp.getheader("location") == "/leaderboard"
    cookie = resp.getheader("set-cookie").split(";")[0]
    assert TOKEN not in cookie
    conn.request("GET", "/leaderboard", headers={"Cookie": cookie})
    page = conn.getresponse()
    assert page.status == 200 and b"Bradley" in page.read()


def test_oversized_chunked_body_without_length_is_refused(server):
    import http.client

    c = Client(server.url)
    c.open_page()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    chunks = (b'{"matchup": "x", "answer": "left", "pad": "' + b"y" * 1000 for _ in range(8))
    conn.request("POST", "/api/vote", body=chunks, encode_chunked=True,
                 headers={"Cookie": c.cookie, "X-Arena-CSRF": c.csrf, "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 413 and b"4096" in resp.read()
