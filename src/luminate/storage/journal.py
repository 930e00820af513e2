"""The insert journal of the embedded engine: what makes an insert all-or-nothing across the day
partitions it spans, even when the process is killed in the middle of it.

An insert that spans several partitions creates one part per partition, and a crash can leave
some of them stored. So every insert carries a batch id in each row, and the journal records the
batch (`B <id> <points>`) before the insert and its completion (`D <id> <request keys>`) before
any request in it is answered. At start, a batch begun but not done was never acknowledged: its
rows, whichever parts of it landed, are deleted before the store serves, so a client's retry
stores the points exactly once. A batch done holds the keys of the requests in it, so a retry of
one whose answer the crash swallowed is recognised (ingest/idempotency.py). Records are flushed
to the operating system before the insert (enough for a killed process) and fsynced when storage
fsync is on (power loss)."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

JOURNAL_FILE = "inserts.journal"
# Rewrite the file (keeping open batches and recent keys) once it grows past this and past
# twice its size after the last rewrite.
_COMPACT_BYTES = 4 << 20


class Journal:
    def __init__(self, path: Path, *, fsync: bool, keys_window_s: float = 600.0) -> None:
        self.path = path
        self._fsync = fsync
        self._keys_window_ns = int(keys_window_s * 1e9)
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}
        self._done: deque[tuple[int, str]] = deque()  # (batch id, its keys' record) kept
        self._last = 0
        self._compacted_size = 0
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
            elif len(parts) in (2, 3) and parts[0] == "D" and parts[1].isdigit():
                begun.pop(int(parts[1]), None)
        return begun

    def recent_keys(self, now_ns: int) -> dict[bytes, int]:
        """Request keys of the batches done within the keys window: key -> batch id (its time
        in epoch ns). A torn record is skipped: its batch was not answered."""
        keys: dict[bytes, int] = {}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return keys
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or parts[0] != "D" or not parts[1].isdigit():
                continue
            batch = int(parts[1])
            if now_ns - batch > self._keys_window_ns:
                continue
            try:
                for key in parts[2].split(","):
                    keys[bytes.fromhex(key)] = batch
            except ValueError:
                continue
        return keys

    def begin(self, points: int) -> int:
        """A new batch id (unique and increasing), recorded before the insert runs."""
        with self._lock:
            batch = max(time.time_ns(), self._last + 1)
            self._last = batch
            self._open[batch] = points
            self._append(f"B {batch} {points}\n")
            return batch

    def done(self, batch: int, keys: Sequence[bytes] = ()) -> None:
        """The batch is stored whole; recorded, with the keys of the requests in it, before any
        of them is answered."""
        with self._lock:
            self._open.pop(batch, None)
            if keys:
                record = f"D {batch} {','.join(k.hex() for k in keys)}\n"
                self._done.append((batch, record))
            else:
                record = f"D {batch}\n"
            self._append(record)
            size = os.fstat(self._fd).st_size
            if size > _COMPACT_BYTES and size > 2 * self._compacted_size:
                self._compact()

    def failed(self, batch: int) -> None:
        """The insert raised: leave the batch open, so a restart removes whatever of it landed
        (a failed insert may have stored some partitions)."""

    def reset(self) -> None:
        """Forget every record but the recent keys (after recovery removed the unfinished
        batches' rows)."""
        with self._lock:
            self._open.clear()
            self._done = deque(
                (batch, f"D {batch} {','.join(k.hex() for k, b in group)}\n")
                for batch, group in _by_batch(self.recent_keys(time.time_ns()))
            )
            self._compact()

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
        """Rewrite the file with the batches still open and the keys still within the window
        (write, sync, rename)."""
        horizon = time.time_ns() - self._keys_window_ns
        while self._done and self._done[0][0] < horizon:
            self._done.popleft()
        kept = "".join(f"B {b} {n}\n" for b, n in self._open.items())
        kept += "".join(record for _, record in self._done)
        fresh = self.path.with_suffix(".compacting")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, kept.encode())
            self._compacted_size = len(kept)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)


def _by_batch(keys: dict[bytes, int]) -> list[tuple[int, list[tuple[bytes, int]]]]:
    groups: dict[int, list[tuple[bytes, int]]] = {}
    for key, batch in keys.items():
        groups.setdefault(batch, []).append((key, batch))
    return sorted(groups.items())
