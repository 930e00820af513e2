"""Deletions on old servers with an insert quorum.

ClickHouse before 20.3 never applies a mutation to the last part written with a quorum in each
partition (ClickHouse issue 7133, fixed by pull request 9463), so a deletion would wait for it
forever. After each deletion, one marker row is written with the quorum into every partition of
every shard: the part the deletion waits for is no longer its partition's last quorum part, and
the marker, written after the deletion, is not part of it. The marker's tenant is empty, which
no request can name, so no query ever reads it; each deletion leaves one such row per
partition and shard. Current servers need none of this."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial

from luminate.storage import quorum
from luminate.storage.engine import Column
from luminate.storage.errors import StorageError
from luminate.storage.shards import Replica, ShardRouter
from luminate.storage.sql import ident, quote

log = logging.getLogger("luminate.storage")


class QuorumSeal:
    def __init__(
        self,
        router: ShardRouter,
        database: str,
        *,
        select_on: Callable[[Replica, str], list[list[object]]],
        send: Callable[[Replica, str, Sequence[Column]], None],
    ) -> None:
        self._router = router
        self._database = database
        self._select_on = select_on
        self._send = send
        self._statement = (
            f"INSERT INTO {ident(database)}.samples_local ({', '.join(quorum.SEAL_COLUMNS)}) VALUES"
        )

    def after_deletion(self) -> None:
        """Seal every shard; a shard that cannot be sealed now is logged, and the deletion
        then waits there (until its timeout) as it would without the seal."""
        for shard in self._router.shards:
            try:
                partitions = self._last_quorum_partitions(shard.replicas[0])
                data = quorum.seal_rows(partitions, float(time.time_ns()))
                if data[0]:
                    self._router.insert(
                        uuid.uuid4().hex,
                        partial(self._send_markers, data),
                        shard=shard,
                    )
            except StorageError as exc:
                log.warning(
                    "cannot seal quorum parts", extra={"shard": shard.number, "error": str(exc)}
                )

    def _send_markers(self, data: Sequence[Column], replica: Replica) -> None:
        self._send(replica, self._statement, data)

    def _last_quorum_partitions(self, replica: Replica) -> list[str]:
        paths = self._select_on(
            replica,
            "SELECT zookeeper_path FROM system.replicas WHERE database = "
            f"{quote(self._database)} AND table = 'samples_local'",
        )
        if not paths:
            return []
        rows = self._select_on(
            replica,
            "SELECT value FROM system.zookeeper WHERE name = 'last_part' AND path = "
            + quote(f"{paths[0][0]}/quorum"),
        )
        return quorum.last_quorum_partitions(str(rows[0][0])) if rows else []
