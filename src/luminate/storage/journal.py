"""The insert journal of the embedded engine: what makes an insert all-or-nothing across the day
partitions it spans, even when the process is killed in the middle of it.

An insert that spans several partitions creates one part per partition, and a crash can leave
some of them stored. So every insert carries a batch id in each row, and the journal records the
batch (`B <id> <points>`) before the insert and its completion (`D <id>`) before any request in
it is answered. At start, a batch begun but not done was never acknowledged: its rows, whichever
parts of it landed, are deleted before the store serves, so a client's retry stores the points
exactly once. Records are flushed to the operating system before the insert (enough for a killed
process) and fsynced when storage fsync is on (power loss)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

JOURNAL_FILE = "inserts.journal"
# Rewrite the file (keeping only batches still in flight) once it grows past this.
_COMPACT_BYTES = 1 << 20


class Journal:
    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self._fsync = fsync
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}
        self._last = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def unfinished(self) -> dict[int, int]:
        """Batches begun and never done in the file as it is now: id -> points."""
        begun: dict[int, int] = {}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return begun
        for line in text.splitlines():
            parts = line.split()
            # A torn last line (killed mid-write) was never followed by an insert.
            if len(parts) == 3 and parts[0] == "B" and parts[1].isdigit() and parts[2].isdigit():
                begun[int(parts[1])] = int(parts[2])
            elif len(parts) == 2 and parts[0] == "D" and parts[1].isdigit():
                begun.pop(int(parts[1]), None)
        return begun

    def begin(self, points: int) -> int:
        """A new batch id (unique and increasing), recorded before the insert runs."""
        with self._lock:
            batch = max(time.time_ns(), self._last + 1)
            self._last = batch
            self._open[batch] = points
            self._append(f"B {batch} {points}\n")
            return batch

    def done(self, batch: int) -> None:
        """The batch is stored whole; recorded before any request in it is answered."""
        with self._lock:
            self._open.pop(batch, None)
            self._append(f"D {batch}\n")
            if os.fstat(self._fd).st_size > _COMPACT_BYTES:
                self._compact()

    def failed(self, batch: int) -> None:
        """The insert raised: leave the batch open, so a restart removes whatever of it landed
        (a failed insert may have stored some partitions)."""

    def reset(self) -> None:
        """Forget every record (after recovery removed the unfinished batches' rows)."""
        with self._lock:
            os.ftruncate(self._fd, 0)
            self._sync()
            self._open.clear()

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)

    def _append(self, record: str) -> None:
        os.write(self._fd, record.encode())
        self._sync()

    def _sync(self) -> None:
        if self._fsync:
            os.fsync(self._fd)

    def _compact(self) -> None:
        """Rewrite the file with only the batches still open (write, sync, rename)."""
        fresh = self.path.with_suffix(".compacting")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, "".join(f"B {b} {n}\n" for b, n in self._open.items()).encode())
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
