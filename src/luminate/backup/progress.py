"""Progress of long steps: a bar redrawn in place on a terminal, plain lines in logs (at most
one every few seconds), nothing on stdout when the output is JSON for a script."""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def step(self, text: str) -> None:
        """A new phase began (one line)."""

    def advance(self, done: int, total: int, unit: str) -> None:
        """`done` of `total` (bytes, parts, files) in the current phase."""


class Silent:
    def step(self, text: str) -> None:
        pass

    def advance(self, done: int, total: int, unit: str) -> None:
        pass


def _amount(n: int, unit: str) -> str:
    if unit != "bytes":
        return f"{n} {unit}"
    value = float(n)
    for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or suffix == "TiB":
            return f"{value:.1f} {suffix}" if suffix != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class Lines:
    """Plain, timestamped lines; `advance` prints at most every `interval_s` and at the end."""

    def __init__(self, out: TextIO, interval_s: float = 5.0, bar: bool = False) -> None:
        self._out = out
        self._interval_s = interval_s
        self._bar = bar
        self._last = 0.0
        self._began = time.monotonic()
        self._lock = threading.Lock()

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self._began:7.1f}s]"

    def step(self, text: str) -> None:
        with self._lock:
            if self._bar:
                self._out.write("\r\033[K")
            self._out.write(f"{self._stamp()} {text}\n")
            self._out.flush()

    def advance(self, done: int, total: int, unit: str) -> None:
        with self._lock:
            now = time.monotonic()
            finished = total > 0 and done >= total
            if not self._bar and not finished and now - self._last < self._interval_s:
                return
            self._last = now
            share = done / total if total else 0.0
            text = (
                f"{_amount(done, unit)} of {_amount(total, unit)} ({share:.0%})"
                if total
                else f"{_amount(done, unit)} so far"
            )
            if self._bar and not total:
                self._out.write(f"\r\033[K  {text}")
            elif self._bar:
                width = 30
                filled = int(width * min(share, 1.0))
                line = f"\r\033[K  [{'#' * filled}{'.' * (width - filled)}] {text}"
                self._out.write(line + ("\n" if finished else ""))
            else:
                self._out.write(f"{self._stamp()}   {text}\n")
            self._out.flush()


def for_terminal(json_output: bool, out: TextIO | None = None) -> Progress:
    """A bar on a terminal, lines otherwise; on stderr, so stdout stays the result."""
    stream = out or sys.stderr
    if json_output and not stream.isatty():
        return Silent()
    return Lines(stream, bar=stream.isatty())
