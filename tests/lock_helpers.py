"""Hold an output's lock from another process, as a second avcap process would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

_HOLDER = (
    "import sys\n"
    "from avcap.data.lock import OutputLock\n"
    "with OutputLock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    sys.stdin.read()  # until the test closes our stdin\n"
)


@contextlib.contextmanager
def held_by_another_process(target: str | Path):
    """Yield the holder's pid while a child process holds ``target``'s lock."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
