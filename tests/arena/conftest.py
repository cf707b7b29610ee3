"""Arena fixtures: real videos, caption files of several models, a real server on loopback.

The server is the real CLI (``avcap arena serve``) in a subprocess on 127.0.0.1 and a free
port, so the tests cover uvicorn, Starlette, SQLite and the command line together, and a
test can SIGKILL it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from avcap.synth.sample import SampleVideoSpec, write_sample_video

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ArenaFiles:
    videos: Path  # folder
    captions: dict[str, Path]  # model -> captions.jsonl
    ids: list[str]
    text: dict[str, dict[str, str]]  # model -> id -> caption


def write_captions(folder: Path, models: dict[str, dict[str, str]], videos: Path) -> dict[str, Path]:
    out = {}
    for model, caps in models.items():
        path = folder / f"{model}.jsonl"
        with path.open("w") as f:
            for item_id, caption in caps.items():
                f.write(json.dumps({"id": item_id, "video": str(videos / f"{item_id}.mp4"), "caption": caption,
                                    "model": f"test:{model}", "error": None}) + "\n")
        out[model] = path
    return out


def make_files(root: Path, n_videos: int, models: list[str], seconds: float = 3.0) -> ArenaFiles:
    videos = root / "videos"
    videos.mkdir(parents=True)
    first = write_sample_video(videos / "v000.mp4", SampleVideoSpec(duration_s=seconds, fps=10, width=64, height=48))
    ids = [f"v{i:03d}" for i in range(n_videos)]
    for item_id in ids[1:]:
        shutil.copyfile(first, videos / f"{item_id}.mp4")
    # captions never name their model (the page must not leak it); longer for later models
    text = {m: {i: f"In video {i} a red circle appears" + " and then it moves" * k + "." for i in ids}
            for k, m in enumerate(models)}
    return ArenaFiles(videos, write_captions(root, text, videos), ids, text)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> ArenaFiles:
    """8 videos (one real 3 s clip, copied) captioned by 4 models: 48 pairs per voter."""
    return make_files(tmp_path_factory.mktemp("arena"), 8, ["alpha", "beta", "gamma", "delta"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ArenaServer:
    """``avcap arena serve ...`` in a subprocess, on 127.0.0.1 only."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-c", "from avcap.cli import main; main()", "arena", "serve", *args,
               "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"arena server exited: {self.proc.stdout.read()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("arena server did not start in 30 s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def serve_args(files: ArenaFiles, db: Path, *extra: str) -> list[str]:
    paths = [str(p) for p in files.captions.values()]
    return ["--captions", paths[0], *paths[1:], "--videos", str(files.videos), "--db", str(db), "--rounds", "50",
            *extra]


class Client:
    """A voter's browser, minus the browser: keeps the cookie, sends the CSRF header."""

    def __init__(self, url: str):
        self.url, self.cookie, self.csrf = url, None, None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()

    def open_page(self) -> str:
        status, headers, body = self.request("GET", "/")
        assert status == 200
        cookie = headers.get("set-cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        html = body.decode()
        self.csrf = html.split('name="arena-csrf" content="')[1].split('"')[0]
        return html

    def post_json(self, path: str, obj, headers: dict | None = None):
        raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        status, _, body = self.request("POST", path, raw, {"Content-Type": "application/json",
                                                           "X-Arena-CSRF": self.csrf or "", **(headers or {})})
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def next(self):
        return self.post_json("/api/next", {})

    def vote(self, matchup: str, answer: str):
        return self.post_json("/api/vote", {"matchup": matchup, "answer": answer})
