"""Input checks shared by the metric functions: one error type, one-line messages.

Metrics receive judged data (counts from a judge, parsed letters, dialogue lists). A bad
value there is a data problem, so the error is a :class:`~avcap.errors.DataError`; it is
also a ``ValueError`` so that generic numeric code catching ``ValueError`` still works.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from avcap.errors import DataError


class MetricInputError(DataError, ValueError):
    """A metric got an input it cannot score; the message names the argument and the cause."""


def require_count(name: str, value: Any) -> int:
    """``value`` as a non-negative ``int`` (numpy integers accepted, bools and floats refused)."""
    if isinstance(value, bool):
        raise MetricInputError(f"{name}: expected a count, got the bool {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise MetricInputError(f"{name}: expected an integer count, got {value!r}") from None
    if count < 0:
        raise MetricInputError(f"{name}: count must be >= 0, got {count}")
    return count


def require_real(name: str, value: Any) -> float:
    """``value`` as a finite ``float`` (bools refused: a bool here is always a mix-up)."""
    if isinstance(value, bool):
        raise MetricInputError(f"{name}: expected a number, got the bool {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MetricInputError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise MetricInputError(f"{name}: expected a finite number, got {number}")
    return number


def require_fraction(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1]."""
    number = require_real(name, value)
    if not 0.0 <= number <= 1.0:
        raise MetricInputError(f"{name}: expected a value in [0, 1], got {number}")
    return number
