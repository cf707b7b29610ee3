#!/usr/bin/env bash
# Set up avcap in a virtual environment: `bash scripts/setup.sh [VENV_DIR]` (default .venv).
#
# - VENV_DIR that already holds a Python environment (an existing venv or conda env) is used
#   as it is, so a torch the user already installed there (CUDA or not) is kept.
# - Otherwise a new venv is made with the first python3 >= 3.10 found.
# - torch is installed only when the environment has none: the pinned pair
#   torch==2.14.1 / torchvision==0.29.1 (torchvision is needed by transformers' Qwen video
#   processors, and this pair is the one whose torchvision loads everywhere we test; it runs
#   on CPU when no CUDA device is present).
# - avcap itself is installed editable with its train/video/dev/serve/ray extras. A stamp of
#   pyproject.toml makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

# The arena's browser tests drive Debian's chromium through Playwright (no browser download).
# Installed only when missing; needs root (CI) or sudo, else a note and the rest goes on.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "setup: installing chromium (apt-get) for the arena's browser tests"
    $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null || echo "setup: could not install chromium" >&2
  else
    echo "setup: /usr/bin/chromium is missing and this is not root: apt-get install chromium" >&2
  fi
fi
VENV="${1:-.venv}"
TORCH_SPEC="${AVCAP_TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}"

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="${PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
      if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        PYTHON="$candidate"; break
      fi
    done
  fi
  [ -n "$PYTHON" ] || { echo "setup: need Python >= 3.10 (none found on PATH)" >&2; exit 1; }
  echo "setup: creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

stamp="$VENV/.avcap-setup-stamp"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c 'import avcap, torch' 2>/dev/null; then
  exit 0
fi

"$PY" -m pip install -q --upgrade pip
if "$PY" -c 'import torch' 2>/dev/null; then
  echo "setup: keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
  echo "setup: installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q $TORCH_SPEC
fi
echo "setup: installing avcap (editable, extras train,video,dev,serve,ray)"
"$PY" -m pip install -q -e ".[train,video,dev,serve,ray]"
echo "$want" > "$stamp"
