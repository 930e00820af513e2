"""The settings every Luminate under test runs with, in-process or as a `luminate serve`
process: the test secret, no fsync, and tenant limits far above what any test sends, so tests of
other features never meet a 429 (tests of the limits themselves set their own)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx

from tests.support.tokens import TEST_SECRET

HIGH_LIMITS = {
    "LUMINATE_RATELIMIT_WRITE_RPS": "1000000",
    "LUMINATE_RATELIMIT_QUERY_RPS": "1000000",
    "LUMINATE_RATELIMIT_METRICS_PER_SEC": "1000000000",
    "LUMINATE_RATELIMIT_CONCURRENT_QUERIES": "1000",
}


def served_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The `LUMINATE_*` (and `JWT_SECRET`) variables of a server under test, `extra` last."""
    return {
        "JWT_SECRET": TEST_SECRET,
        "LUMINATE_STORAGE_FSYNC": "false",
        **HIGH_LIMITS,
        **extra,
    }


class Served(Protocol):
    """Luminate under test, in process or as a process: a client whose base URL is the API, and
    tokens of the test secret."""

    @property
    def client(self) -> httpx.Client: ...

    def token(self, tenant: str, scopes: str = "read,write", ttl_s: int = 3600) -> str: ...

    def headers(self, tenant: str, scopes: str = "read,write") -> dict[str, str]: ...
