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
