"""The insert quorum on a cluster: how many replicas of a shard must hold a part before a write is
acknowledged, and what a refused insert means.

A quorum of 2 on a shard of 2 replicas survives the loss of either replica right after the
acknowledgement (disk included), at the price of waiting for the second replica to fetch the
part, and of refusing writes on that shard while one of its replicas is down (the batch then goes
to another shard, see `shards.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from luminate.storage.engine import Column
from luminate.storage.errors import StorageError, StorageUnavailable
from luminate.storage.sql import SettingValue

QUORUM_ENV = "LUMINATE_CLICKHOUSE_INSERT_QUORUM"

QuorumSpec = Literal["majority"] | int

# ClickHouse error codes that an insert raises before any of its rows is stored, so the batch may
# be written to another shard without ever being stored twice.
TOO_FEW_LIVE_REPLICAS = 285  # the quorum cannot be met: checked before the part is written
UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE = 286  # servers without parallel quorum: one at a time
REFUSED_CODES = frozenset(
    {
        TOO_FEW_LIVE_REPLICAS,
        UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE,
        60,  # UNKNOWN_TABLE: e.g. a replica being refilled under another name
        81,  # UNKNOWN_DATABASE: a server that came back empty
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES: refused at admission
        225,  # NO_ZOOKEEPER: a replicated table refuses inserts before writing
        242,  # TABLE_IS_READ_ONLY: same (ZooKeeper session lost)
        252,  # TOO_MANY_PARTS: refused before writing
    }
)


class InsertRefused(StorageUnavailable):
    """The replica refused the insert before storing any of it (it could not be reached, or
    said so with one of `REFUSED_CODES`), so the batch may go to another shard.

    Any other failure of an insert that was sent (a quorum timeout, a connection lost after the
    data left, a server error) leaves its outcome unknown: part of it may be stored and may
    still reach its quorum, so it is retried only on the same shard, where deduplication
    recognises it."""

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        # Refused only because another quorum insert is in flight on the shard: worth a retry.
        self.busy = busy


class ImpossibleQuorum(StorageError):
    """The configured quorum is larger than the replicas of a shard: no write could succeed."""


def resolve(spec: QuorumSpec, replicas: Sequence[int], cluster: str | None) -> int:
    """The number of replicas each insert must reach, from the setting and the replicas of each
    shard (in `system.clusters` order). Raises ImpossibleQuorum naming the setting."""
    fewest = min(replicas) if replicas else 1
    if spec == "majority":
        return fewest // 2 + 1
    if spec <= fewest:
        return spec
    if cluster is None:
        where = "without LUMINATE_CLICKHOUSE_CLUSTER every write goes to one server"
    else:
        shard = replicas.index(fewest) + 1
        where = (
            f"shard {shard} of cluster {cluster!r} has {fewest} replica"
            f"{'s' if fewest != 1 else ''} in system.clusters"
        )
    raise ImpossibleQuorum(
        f"{QUORUM_ENV}={spec} can never be met: {where}; set at most {fewest} or 'majority'"
    )


def insert_settings(quorum: int, timeout_s: float, *, parallel: bool) -> dict[str, SettingValue]:
    """The server settings of a quorum insert (none when one replica is enough)."""
    if quorum < 2:
        return {}
    settings: dict[str, SettingValue] = {
        "insert_quorum": quorum,
        "insert_quorum_timeout": max(1, round(timeout_s * 1000)),
    }
    if parallel:
        # Current servers: concurrent quorum inserts on a shard do not wait for each other.
        settings["insert_quorum_parallel"] = 1
    return settings


# Servers before 20.3 never apply a mutation to the last part written with a quorum in each
# partition (ClickHouse issue 7133, fixed by pull request 9463): a deletion would wait forever.
MUTATES_LAST_QUORUM_PART = (20, 3)


# The columns a seal's marker row sets.
SEAL_COLUMNS = ("tenant_id", "metric_name", "timestamp_ms", "value")


def last_quorum_partitions(last_part: str) -> list[str]:
    """The partitions named in a table's `quorum/last_part` ZooKeeper node ("version: 2",
    "parts count: N", then one `<partition id>\\t<part name>` line per partition)."""
    return [line.split("\t", 1)[0] for line in last_part.splitlines() if "\t" in line]


def seal_rows(partitions: Sequence[str], nonce: float) -> list[Column]:
    """Columns (those of `SEAL_COLUMNS`; the others take their defaults) of one marker row in
    each day partition (`YYYYMMDD`): written with the quorum after a deletion on an old server,
    it becomes its partition's last quorum part, so the deletion can proceed on the part it was
    waiting for.
    Its tenant is empty, which no request can name, so no query ever reads it. Its value is
    `nonce`, different for every seal: an identical block would be dropped as a duplicate."""
    stamps = []
    for partition in partitions:
        if len(partition) == 8 and partition.isdigit():
            day = datetime.strptime(partition, "%Y%m%d").replace(tzinfo=UTC)
            stamps.append(int(day.timestamp() * 1000))
    n = len(stamps)
    return [[""] * n, [""] * n, stamps, [nonce] * n]
