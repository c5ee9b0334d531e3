"""GET /sleep/{seconds}: sleep, then say so, echoing the value exactly as given.

Accepted: a plain decimal number (``20``, ``1.5``, ``.5``, ``2e1``, ``+3``) that is finite and from
0 to the configured maximum. Rejected with InvalidInput: anything else, including ``nan``, ``inf``,
hex, digit separators (``1_0``), surrounding spaces, negatives and values above the maximum.
"""

import math
import re
import time
from collections.abc import Callable

from simple_api.errors import InvalidInput

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MAX_LENGTH = 32
_SHOWN = 40


def parse_seconds(raw: str | None, max_seconds: float) -> float:
    """The number of seconds in ``raw``; InvalidInput naming the parameter and range otherwise."""
    value = math.nan
    if raw is not None and len(raw) <= _MAX_LENGTH and _NUMBER.fullmatch(raw):
        value = float(raw)
    if not (math.isfinite(value) and 0 <= value <= max_seconds):
        shown = "nothing" if raw is None else repr(raw[:_SHOWN] + ("..." if len(raw) > _SHOWN else ""))
        raise InvalidInput(f"seconds must be a number from 0 to {max_seconds:g}; got {shown}")
    return value


def sleep_for(raw: str | None, max_seconds: float, sleep: Callable[[float], None] | None = None) -> str:
    seconds = parse_seconds(raw, max_seconds)
    (sleep or time.sleep)(seconds)
    return f"sleep for {raw} secs"
