"""Length-regularised reward of AVoCaDO (Sec. 3.2.4, Eq. 8; thresholds from App. D.2).

    R_L = 1.0                              if len < τ1
        = 1 - (len - τ1) / (τ2 - τ1)       if τ1 <= len < τ2
        = 0.0                              otherwise (len >= τ2)

with τ1 = 2048 and τ2 = 4096 tokens of the generated caption. The reward is continuous:
exactly 1.0 at len = τ1 and it reaches 0 at len = τ2. "len" counts the caption's tokens
(App. D.2 reasons in tokens of the model's tokenizer), so the caller passes the number of
generated tokens, without the end-of-sequence token.
"""

from __future__ import annotations

from avcap.metrics._checks import MetricInputError, require_count


def length_reward(n_tokens: int, soft: int = 2048, hard: int = 4096) -> float:
    """Eq. 8: 1 below ``soft`` tokens, linear down to 0 at ``hard``, 0 beyond.

    >>> length_reward(100), length_reward(2048), length_reward(3072), length_reward(4096)
    (1.0, 1.0, 0.5, 0.0)
    """
    n_tokens = require_count("n_tokens", n_tokens)
    soft = require_count("soft", soft)
    hard = require_count("hard", hard)
    if soft >= hard:
        raise MetricInputError(f"length_reward: soft ({soft}) must be below hard ({hard})")
    if n_tokens < soft:
        return 1.0
    if n_tokens < hard:
        return 1.0 - (n_tokens - soft) / (hard - soft)
    return 0.0
