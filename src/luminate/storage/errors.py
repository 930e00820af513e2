"""Storage failures, translated at the boundary: nothing named after a driver escapes storage."""

from __future__ import annotations


class StorageError(Exception):
    """The engine refused or failed a statement."""


class StorageUnavailable(StorageError):
    """The engine cannot be reached or cannot accept writes right now; retrying later may work."""


class StorageTimeout(StorageError):
    """The statement ran past its time budget and the engine cancelled it."""


class StorageBudgetExceeded(StorageError):
    """The statement read more rows than its budget allowed and the engine stopped it."""


class TenantScopeViolation(StorageError):
    """A compiled statement lacks its tenant predicate; it is never sent to the engine."""


# ClickHouse error codes, the same on every server version and on the embedded engine.
_TIMEOUT_CODES = frozenset({159, 160, 394})  # TIMEOUT_EXCEEDED, TOO_SLOW, QUERY_WAS_CANCELLED
_BUDGET_CODES = frozenset({158})  # TOO_MANY_ROWS (max_rows_to_read)
# "The engine cannot take this right now" rather than "the statement is wrong": ZooKeeper /
# Keeper trouble, read-only replicas, too many parts, not enough replicas for quorum, network
# problems between servers, all replicas of a shard down.
_UNAVAILABLE_CODES = frozenset({3, 209, 210, 225, 242, 252, 279, 285, 286, 319, 425, 999, 1000})


def translate(code: int, message: str, sql: str) -> StorageError:
    """The StorageError for an engine failure with ClickHouse error `code` (0: unknown). The one
    place engine error codes get a meaning; each engine only extracts code and message."""
    if code in _TIMEOUT_CODES:
        return StorageTimeout(message)
    if code in _BUDGET_CODES:
        return StorageBudgetExceeded(message)
    if code in _UNAVAILABLE_CODES:
        return StorageUnavailable(message)
    return StorageError(f"{message} [statement: {sql[:200]}]")
