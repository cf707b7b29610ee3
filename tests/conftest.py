"""Suite-wide settings: tests never reach a model hub and never wait on one."""

import atexit
import os
import shutil
import tempfile

# No hub at test time: any accidental hub call fails at once instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The API key must never be needed (or leaked) by tests that do not set one themselves.
os.environ.pop("OPENAI_API_KEY", None)

# Miniatures are built once into one folder for the whole session (not the user's ~/.cache).
# Set at import, before any test or subprocess starts, so every process sees the same models.
if "AVCAP_TINY_DIR" not in os.environ:
    _tiny_dir = tempfile.mkdtemp(prefix="avcap-tiny-")
    os.environ["AVCAP_TINY_DIR"] = _tiny_dir
    atexit.register(shutil.rmtree, _tiny_dir, ignore_errors=True)
