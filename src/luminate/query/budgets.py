"""Running a read under a query's budgets: the one place where the engine cancelling a read for
its rows or time budget becomes the error the client sees, whatever protocol the query came in."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from luminate.limits.config import source
from luminate.model.errors import ErrorCode, UnprocessableQuery
from luminate.storage.calls import StorageCalls
from luminate.storage.errors import StorageBudgetExceeded, StorageTimeout

T = TypeVar("T")


async def within_budget(
    calls: StorageCalls,
    read: Callable[[], T],
    *,
    timeout_s: float,
    max_rows_scanned: int,
    narrow: str,
) -> T:
    """`read()` on the storage pool, cancelled after `timeout_s`. Past its rows or time budget it
    raises UnprocessableQuery naming the budget and the setting that bounds it; `narrow` says
    what the client can narrow ("add filters", "the selectors")."""
    try:
        return await calls.run("query", read, timeout_s=timeout_s)
    except StorageBudgetExceeded:
        raise UnprocessableQuery(
            f"query would read more than {max_rows_scanned} stored points, the query budget "
            f"({source('query_max_rows_scanned')}); narrow the time range or {narrow}",
            code=ErrorCode.TOO_MANY_ROWS_SCANNED,
            details={"budget": "query_max_rows_scanned", "limit": max_rows_scanned},
        ) from None
    except StorageTimeout:
        raise UnprocessableQuery(
            f"query ran past its time budget of {timeout_s:g} s and was cancelled (the "
            f"query's timeout, at most {source('query_max_timeout_seconds')}); narrow the "
            f"time range or {narrow}",
            code=ErrorCode.QUERY_TIMEOUT,
            details={"budget": "query_max_timeout_seconds", "limit": timeout_s},
        ) from None
