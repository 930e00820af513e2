"""Which backups `prune` deletes: everything older than the retention, except the newest
complete backup, whatever the clock says (a clock far ahead must not delete the last good
copy). Directories without a manifest are deleted once they are a day old, since no backup
runs that long; younger ones may still be in progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from luminate.backup.catalog import Entry

INCOMPLETE_GRACE = timedelta(days=1)


def expired(backups: Sequence[Entry], now: datetime, retention_days: int) -> list[Entry]:
    complete = [e for e in backups if e.restorable]
    keep = max(complete, key=lambda e: e.started).id if complete else None
    cutoff = now - timedelta(days=retention_days)
    out = []
    for entry in backups:
        if entry.id == keep:
            continue
        if entry.started < cutoff or (
            entry.manifest is None and entry.started < now - INCOMPLETE_GRACE
        ):
            out.append(entry)
    return out
