"""Which shard of a cluster takes an insert, and where it goes when that shard cannot.

Batches are not pinned to a shard: each starts at a shard chosen by its deduplication token
(spreading load) and, when every replica of that shard refuses it (`InsertRefused`: nothing of
it was stored), moves on to the next shard. The one exception keeps retries exactly once: once
an attempt on a shard ended with an unknown outcome (a quorum timeout, a connection lost after
the data was sent), part of the batch may be stored there and may still reach its quorum, so
every later attempt with the same token goes to that shard only, whose replicas recognise it
(by token, or on old servers by content) and store it at most once.

Within a shard, replicas are tried in configuration order, the order reads use
(`load_balancing=in_order`), so the replica a write went to first is the one that answers the
next read. A shard that just refused or failed is tried last for a few seconds, so new batches do
not queue behind a dead replica's quorum timeout."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.quorum import InsertRefused

Replica = tuple[str, int]


@dataclass(frozen=True)
class Shard:
    number: int
    replicas: tuple[Replica, ...]


def shards_from_rows(rows: Sequence[tuple[int, str, int]]) -> list[Shard]:
    """Shards from `(shard_num, host_name, port)` rows of system.clusters, replicas in order."""
    grouped: dict[int, list[Replica]] = {}
    for number, host, port in rows:
        grouped.setdefault(number, []).append((host, port))
    return [Shard(n, tuple(grouped[n])) for n in sorted(grouped)]


class ShardRouter:
    """Sends each insert to one shard, failing over between shards as described above.

    `serial`: the server takes one quorum insert per shard at a time (no parallel quorum), so
    this process keeps one insert per shard in flight and prefers an idle shard. `busy_wait_s`:
    how long a new batch keeps retrying while every shard answers "another quorum insert is in
    flight" (other processes' inserts)."""

    def __init__(
        self,
        shards: Sequence[Shard],
        *,
        serial: bool = False,
        busy_wait_s: float = 10.0,
        cooldown_s: float = 5.0,
        remembered: int = 4096,
    ) -> None:
        if not shards:
            raise StorageError("a cluster without shards takes no insert")
        self.shards = list(shards)
        self._serial = serial
        self._busy_wait_s = busy_wait_s
        self._cooldown_s = cooldown_s
        self._slots = {s.number: threading.Lock() for s in self.shards}
        self._lock = threading.Lock()
        self._pins: OrderedDict[str, Shard] = OrderedDict()
        self._remembered = remembered
        self._trouble: dict[int, float] = {}

    def pinned(self, token: str) -> Shard | None:
        """The shard a batch must stay on, once an attempt there had an unknown outcome."""
        with self._lock:
            return self._pins.get(token)

    def insert(
        self, token: str, send: Callable[[Replica], None], *, shard: Shard | None = None
    ) -> Shard:
        """Store the batch through `send(replica)` on one shard (`shard`, when given); returns
        that shard. Raises StorageUnavailable when every candidate refused it, or the error of
        an attempt whose outcome is unknown (after which the token stays on that shard)."""
        deadline = time.monotonic() + self._busy_wait_s
        tries = 0
        while True:
            pinned = self.pinned(token)
            refusals: list[InsertRefused] = []
            for candidate in self._candidates(token, pinned or shard):
                with self._slot(candidate):
                    for replica in candidate.replicas:
                        try:
                            send(replica)
                        except InsertRefused as exc:
                            refusals.append(exc)
                            if not exc.busy:
                                self._mark_trouble(candidate)
                            continue
                        except StorageError:
                            self._pin(token, candidate)
                            self._mark_trouble(candidate)
                            raise
                        self._unpin(token)
                        return candidate
            busy = any(r.busy for r in refusals)
            # A shard busy with another quorum insert is waited for, within the budget. A pinned
            # batch is not: its own unfinished quorum is the likely reason, and the caller's
            # retries bound that wait.
            if pinned is not None or not busy or time.monotonic() >= deadline:
                reasons = "; ".join(str(r) for r in refusals[-4:])
                raise StorageUnavailable(f"no shard took the insert: {reasons}")
            tries += 1
            time.sleep(min(0.2, 0.005 * 2**tries) * (0.5 + random.random()))  # noqa: S311

    def _candidates(self, token: str, only: Shard | None) -> list[Shard]:
        if only is not None:
            return [only]
        start = zlib.crc32(token.encode()) % len(self.shards)
        order = self.shards[start:] + self.shards[:start]
        now = time.monotonic()
        with self._lock:
            troubled = {n for n, until in self._trouble.items() if until > now}
        # Stable: healthy shards keep the token's order, then those that just failed; with one
        # insert per shard in flight, an idle shard goes before a busy one.
        return sorted(
            order,
            key=lambda s: (s.number in troubled, self._serial and self._slots[s.number].locked()),
        )

    @contextlib.contextmanager
    def _slot(self, shard: Shard) -> Iterator[None]:
        if not self._serial:
            yield
            return
        with self._slots[shard.number]:
            yield

    def _pin(self, token: str, shard: Shard) -> None:
        with self._lock:
            self._pins[token] = shard
            self._pins.move_to_end(token)
            while len(self._pins) > self._remembered:
                self._pins.popitem(last=False)

    def _unpin(self, token: str) -> None:
        with self._lock:
            self._pins.pop(token, None)

    def _mark_trouble(self, shard: Shard) -> None:
        with self._lock:
            self._trouble[shard.number] = time.monotonic() + self._cooldown_s
