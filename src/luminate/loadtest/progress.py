"""Live progress: one line rewritten in place on a terminal, a plain line every few seconds
otherwise (logs, CI). Figures are those of the latest complete second."""

from __future__ import annotations

from typing import TextIO

from luminate.loadtest.figures import Figures

PLAIN_EVERY_S = 5


class Progress:
    def __init__(self, out: TextIO, scenarios: list[str], total_s: float) -> None:
        self.out = out
        self.scenarios = scenarios
        self.total_s = total_s
        self.tty = out.isatty()
        self._last_plain = -PLAIN_EVERY_S
        self._width = 0

    def tick(self, figures: Figures, elapsed_s: float) -> None:
        if elapsed_s < 0:
            return
        second = int(elapsed_s)
        if not self.tty and second - self._last_plain < PLAIN_EVERY_S:
            return
        line = self.line(figures, elapsed_s)
        if self.tty:
            pad = max(0, self._width - len(line))
            self.out.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            self._last_plain = second
            self.out.write(line + "\n")
        self.out.flush()

    def line(self, figures: Figures, elapsed_s: float) -> str:
        phase = "warm-up" if elapsed_s < figures.warmup_s else "measuring"
        if elapsed_s >= self.total_s:
            phase = "finishing"
        parts = [f"{min(elapsed_s, self.total_s):5.0f}/{self.total_s:.0f} s {phase:<9}"]
        shown = int(elapsed_s) - 2  # answers to most requests started then are in
        for name in self.scenarios:
            errors = limited = 0
            for (_, n), t in figures.seconds.items():
                if n == name:
                    errors, limited = errors + t.errors, limited + t.rate_limited
            for (_, n), c in figures.complete.items():
                if n == name:
                    errors, limited = errors + c.tally.errors, limited + c.tally.rate_limited
            text = f"{name}"
            open_tally = figures.seconds.get((shown, name))
            closed = figures.complete.get((shown, name))
            tally = open_tally if open_tally is not None else closed.tally if closed else None
            if tally is not None:
                text += f" {tally.requests:,} req/s"
                if name == "write":
                    text += f" {tally.points:,} pts/s"
                ordered = sorted(tally.latencies_us)
                if ordered:
                    text += f" p95 {ordered[int(0.95 * (len(ordered) - 1))] / 1000:,.0f} ms"
            text += f" err {errors:,} 429 {limited:,}"
            parts.append(text)
        shares = [v[-1] for v in figures.cpu_per_second.values() if v]
        if shares:
            parts.append(f"gen cpu {max(shares):.0%}")
        return " | ".join(parts)

    def done(self) -> None:
        if self.tty and self._width:
            self.out.write("\n")
            self.out.flush()
