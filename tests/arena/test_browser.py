"""A real headless Chromium (Debian's, driven by Playwright) plays the video and votes by mouse and keys.

The browser is the system's /usr/bin/chromium, installed by scripts/setup.sh through apt-get;
Playwright never downloads one here.
"""

import sqlite3
from pathlib import Path

import pytest

from tests.arena.conftest import ArenaServer, serve_args

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run scripts/setup.sh (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


def _votes(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT voter, answer, caption_left, caption_right FROM votes ORDER BY id").fetchall()
    finally:
        con.close()


def test_play_seek_vote_with_mouse_and_keyboard(browser, files, tmp_path):
    db = tmp_path / "browser.sqlite"
    server = ArenaServer(serve_args(files, db))
    try:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        media = []
        page.on("response", lambda r: media.append(r.status) if "/media/" in r.url else None)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.wait_for_selector("#arena[data-state=ready]")
        left, right = page.inner_text("#left-text"), page.inner_text("#right-text")
        assert left and right and left != right
        assert not any(m in page.content() for m in files.captions)  # no model name on the page

        # play: a click on the video is the user gesture; the clock must advance
        page.click("#video")
        page.evaluate("document.getElementById('video').play()")
        page.wait_for_function("() => document.getElementById('video').currentTime > 0.3", timeout=15000)
        # seek near the end: served through a range request
        page.evaluate("() => { const v = document.getElementById('video'); v.pause(); v.currentTime = 2.5; }")
        page.wait_for_function("() => { const v = document.getElementById('video');"
                               " return !v.seeking && Math.abs(v.currentTime - 2.5) < 0.3; }", timeout=15000)
        assert 206 in media

        # vote with the mouse
        page.click("#vote-left")
        page.wait_for_function(f"() => document.getElementById('left-text').textContent !== {left!r}"
                               f" || document.getElementById('right-text').textContent !== {right!r}")
        page.wait_for_selector("#arena[data-state=ready]")
        rows = _votes(db)
        assert len(rows) == 1 and rows[0][1:] == ("left", left, right)
        voter = rows[0][0]
        cookie = next(c for c in context.cookies() if c["name"] == "avcap_voter")
        assert cookie["value"].split(".")[0] == voter and cookie["httpOnly"]

        # vote with the keyboard: "2" = right, then ArrowLeft = left, "t" = tie, "4" = both bad
        expected = []
        for key, answer in (("2", "right"), ("ArrowLeft", "left"), ("t", "tie"), ("4", "bad")):
            shown = (page.inner_text("#left-text"), page.inner_text("#right-text"))
            token = page.get_attribute("#arena", "data-matchup")
            page.keyboard.press(key)
            page.wait_for_function(f"() => document.getElementById('arena').dataset.matchup !== {token!r}")
            page.wait_for_selector("#arena[data-state=ready]")
            expected.append((voter, answer, *shown))
        assert _votes(db)[1:] == expected
        assert errors == []
        context.close()
    finally:
        server.stop()
