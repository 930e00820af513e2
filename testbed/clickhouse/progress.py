"""Progress lines of a cluster command: `[clickhouse-cluster +1.23s] what happened`."""

from __future__ import annotations

import time
from typing import TextIO

PREFIX = "clickhouse-cluster"


class Progress:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def restart(self) -> None:
        """Count from now (each command reports its own elapsed time)."""
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        self.show(f"[{PREFIX} +{self.elapsed():.2f}s] {message}\n")

    def show(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
