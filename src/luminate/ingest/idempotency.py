"""Retries are stored once: a write request is identified by its content (the tenant and the
decoded body), and a request identical to one stored within the dedup window is answered as that
one was, without storing its points again.

A client that got no answer cannot know whether its points were stored, so it sends them again;
without this, a crash (or a lost answer) between storing and answering stores them twice.
Identical content is the retry's signature: the same points at the same timestamps with the same
values are the same samples, as in Prometheus and Mimir. The embedded engine's insert journal
records each stored request's key with its insert, so a retry arriving after a restart is
recognised too (on ClickHouse servers the keys live in each process's memory only)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

import xxhash


def request_key(tenant: str, body: bytes) -> bytes:
    """The identity of a write: 128 bits of the tenant and the decoded body."""
    h = xxhash.xxh3_128()
    h.update(tenant.encode())
    h.update(b"\0")
    h.update(body)
    return h.digest()


class RecentWrites:
    """Keys of the writes stored within the last `window_s` seconds (at most `max_keys`, oldest
    forgotten first), and of those being stored right now."""

    def __init__(self, window_s: float, max_keys: int = 200_000) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._stored: OrderedDict[bytes, float] = OrderedDict()
        self._inflight: dict[bytes, asyncio.Future[bool]] = {}

    @property
    def enabled(self) -> bool:
        return self.window_s > 0

    def seed(self, keys: dict[bytes, float]) -> None:
        """Keys stored before this process started (epoch seconds), oldest first."""
        for key, at in sorted(keys.items(), key=lambda kv: kv[1]):
            self._remember(key, at)

    def stored(self, key: bytes, now: float | None = None) -> bool:
        at = self._stored.get(key)
        return at is not None and (now if now is not None else time.time()) - at <= self.window_s

    def inflight(self, key: bytes) -> asyncio.Future[bool] | None:
        """The future of an identical write being stored now (True once it is stored)."""
        return self._inflight.get(key)

    def begin(self, key: bytes) -> asyncio.Future[bool]:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        return fut

    def end(self, key: bytes, stored: bool) -> None:
        fut = self._inflight.pop(key, None)
        if stored:
            self._remember(key, time.time())
        if fut is not None and not fut.done():
            fut.set_result(stored)

    def _remember(self, key: bytes, at: float) -> None:
        self._stored[key] = at
        self._stored.move_to_end(key)
        horizon = time.time() - self.window_s
        while self._stored and (
            len(self._stored) > self.max_keys or next(iter(self._stored.values())) < horizon
        ):
            self._stored.popitem(last=False)

    def __len__(self) -> int:
        return len(self._stored)
