import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys

from avcap.judge.cache import CacheEntry, JudgeCache, cache_key


def _put(cache: JudgeCache, key: str, text: str = "t") -> None:
    cache.put(key, backend="b", model="m", prompt_version="p/v1/x", input_hash="h", run_index=0,
              entry=CacheEntry(text, {"answer": text}, 3, 4))


def test_roundtrip_wal_and_first_writer_wins(tmp_path):
    cache = JudgeCache(tmp_path / "c.sqlite")
    assert cache.get("k") is None
    _put(cache, "k", "first")
    _put(cache, "k", "second")
    entry = cache.get("k")
    assert entry == CacheEntry("first", {"answer": "first"}, 3, 4) and len(cache) == 1
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    cache.close()
    assert JudgeCache(tmp_path / "c.sqlite").get("k").answer_text == "first"  # persisted


def test_key_depends_on_every_part():
    base = cache_key("openai", "gpt", "p/v1/abc", "hash", 0)
    variants = [cache_key("hf", "gpt", "p/v1/abc", "hash", 0), cache_key("openai", "gpt2", "p/v1/abc", "hash", 0),
                cache_key("openai", "gpt", "p/v2/abc", "hash", 0), cache_key("openai", "gpt", "p/v1/abc", "hash2", 0),
                cache_key("openai", "gpt", "p/v1/abc", "hash", 1)]
    assert len({base, *variants}) == 6
    assert cache_key("a|b", "c", "p", "h", 0) != cache_key("a", "b|c", "p", "h", 0)


def _writer(path: str, worker: int, n: int) -> None:
    cache = JudgeCache(path)
    for i in range(n):
        _put(cache, f"w{worker}-{i}", f"{worker}-{i}")
        _put(cache, f"shared-{i % 10}", f"{worker}")  # every process also races on the same 10 keys


def test_concurrent_writer_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    JudgeCache(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 60)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    cache = JudgeCache(path)
    assert len(cache) == 4 * 60 + 10
    assert all(cache.get(f"w{w}-{i}").answer_text == f"{w}-{i}" for w in range(4) for i in range(60))
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


_KILL_SCRIPT = """
import sys
from avcap.judge.cache import CacheEntry, JudgeCache
cache = JudgeCache(sys.argv[1])
i = 0
while True:
    cache.put(f"k{i}", backend="b", model="m", prompt_version="p", input_hash="h", run_index=0,
              entry=CacheEntry("t", {"i": i}, 1, 1))
    print(i, flush=True)
    i += 1
"""


def test_entries_survive_kill_9(tmp_path):
    path = tmp_path / "c.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    cache = JudgeCache(path)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every entry reported as written (committed before its print) is there after kill -9.
    assert len(cache) >= last + 1
    assert all(cache.get(f"k{i}").answer_json == {"i": i} for i in range(last + 1))
