"""LLM judges: backends behind one call signature, versioned prompts, a SQLite cache, retries.

Typical use::

    from avcap.judge import Judge, JudgeCache, JudgeConfig, create_backend, BackendOptions, tasks
    judge = Judge(create_backend("openai", BackendOptions(model="gpt-4.1")), JudgeCache("judge.sqlite"))
    result = await judge.ask(tasks.salmonn2_judgment("v001", caption, events), run_index=0)
"""

from avcap.judge import tasks
from avcap.judge.cache import JudgeCache, cache_key
from avcap.judge.engine import Judge, JudgeConfig, JudgeStats, Judgment
from avcap.judge.registry import BackendOptions, available_backends, create_backend, register_backend
from avcap.judge.retry import RetryPolicy
from avcap.judge.types import AnswerError, ChatBackend, ChatReply, TransientJudgeError

__all__ = [
    "AnswerError", "BackendOptions", "ChatBackend", "ChatReply", "Judge", "JudgeCache", "JudgeConfig",
    "JudgeStats", "Judgment", "RetryPolicy", "TransientJudgeError", "available_backends", "cache_key",
    "create_backend", "register_backend", "tasks",
]
