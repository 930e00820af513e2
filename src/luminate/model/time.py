"""Times and durations as the API speaks them: integer epoch milliseconds or RFC 3339 strings,
and durations such as `15m`, `2h30m`, `500ms`."""

from __future__ import annotations

import re
import time
from datetime import datetime

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"(\d{1,9})(ms|s|m|h|d|w)")
_DURATION_FULL = re.compile(r"(?:\d{1,9}(?:ms|s|m|h|d|w))+")
# Whole RFC 3339: date, `T`, time, optional fraction, mandatory offset.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
# Epoch milliseconds accepted as times: 1970 .. 2262 keeps every value inside Int64 nanoseconds.
MIN_MS = 0
MAX_MS = 9_200_000_000_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_time(value: object) -> int:
    """Epoch milliseconds from an int (ms) or an RFC 3339 string with an offset.

    Raises ValueError naming the problem."""
    if isinstance(value, bool):
        raise ValueError("time must be epoch milliseconds or an RFC 3339 string, not a boolean")
    if isinstance(value, int):
        if not MIN_MS <= value <= MAX_MS:
            raise ValueError(f"time {value} is outside 1970..2261 in epoch milliseconds")
        return value
    if isinstance(value, float):
        if value.is_integer():
            return parse_time(int(value))
        raise ValueError("epoch milliseconds must be an integer")
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and len(value) <= 16:
            return parse_time(int(value))
        if not _RFC3339.fullmatch(value):
            raise ValueError(
                f"{value[:64]!r} is not an RFC 3339 time with an offset "
                "(e.g. 2026-11-25T10:00:00Z) nor epoch milliseconds"
            )
        text = value.replace("z", "Z").replace("t", "T").replace(" ", "T")
        # datetime.fromisoformat takes at most microseconds; drop extra fraction digits.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value[:64]!r} is not a valid RFC 3339 time: {exc}") from None
        ms = int(parsed.timestamp() * 1000)
        return parse_time(ms)
    raise ValueError("time must be epoch milliseconds or an RFC 3339 string")


def parse_duration(text: str) -> int:
    """Milliseconds in a duration like `15m`, `2h30m`, `1d`, `500ms`. Raises ValueError."""
    if not isinstance(text, str) or not _DURATION_FULL.fullmatch(text):
        raise ValueError(
            f"{str(text)[:64]!r} is not a duration: use digits with units ms, s, m, h, d, w "
            "(e.g. 15m, 2h30m)"
        )
    total = sum(int(n) * _UNIT_MS[u] for n, u in _DURATION.findall(text))
    if total <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return total
