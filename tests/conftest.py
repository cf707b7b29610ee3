"""Suite-wide settings: tests never reach a model hub and never wait on one."""

import os

# No hub at test time: any accidental hub call fails at once instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The API key must never be needed (or leaked) by tests that do not set one themselves.
os.environ.pop("OPENAI_API_KEY", None)
