"""Points as a client writes them (JSON objects), shared by the tiers that send writes."""

from __future__ import annotations

import json
from typing import Any

from tests.support.clock import now_ms

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
PROBE = "probe"


def point(**over: Any) -> dict[str, Any]:
    """A valid point of metric PROBE, one minute old; `over` replaces or adds fields."""
    p: dict[str, Any] = {
        "name": PROBE,
        "timestamp": now_ms() - 60_000,
        "value": 1.0,
        "dimensions": {"host": "h1"},
    }
    p.update(over)
    return p


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def tagged_body(name: str, tag: str, n: int) -> bytes:
    """A write body of `n` points of metric `name`, all of dimension `tag`, a millisecond apart
    and ending now, with values 0..n-1."""
    now = now_ms()
    points = [
        {"name": name, "timestamp": now - i, "value": float(i), "dimensions": {"tag": tag}}
        for i in range(n)
    ]
    return dumps({"metrics": points})
