"""Runs a load test: starts the worker processes, adds up their reports while showing
progress, and stops them all, whatever happens, within a bounded time."""

from __future__ import annotations

import multiprocessing as mp
import queue as queues
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from luminate.loadtest.driver import Plan, work
from luminate.loadtest.figures import Figures
from luminate.loadtest.tally import Report

START_DELAY_S = 1.5
"""Time the workers get to start (spawn, import, render bodies) before the common start."""
EXIT_GRACE_S = 10.0


class RunFailed(Exception):
    """The generator itself failed (a worker crashed or vanished); the message says how."""


def run(
    plan: Plan,
    workers: int,
    on_tick: Callable[[Figures, float], None],
    interrupted: Callable[[], bool] = lambda: False,
) -> Figures:
    """Run `plan` on `workers` processes; `on_tick(figures, elapsed_s)` about once a second.
    Once `interrupted()` is true the workers send nothing new, finish what is in flight and
    report; the measured window then ends where they stopped."""
    context = mp.get_context("spawn")  # no inherited threads or open sockets in the workers
    reports: mp.Queue[Report] = context.Queue()
    stop_at = context.Value("d", 0.0)
    start_at = time.time() + START_DELAY_S + 0.2 * workers
    processes = [
        context.Process(
            target=work,
            args=(replace(plan, worker=i, workers=workers, start_at=start_at), reports, stop_at),
            name=f"loadtest-worker-{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    figures = Figures(plan.warmup_s, plan.duration_s, horizon_s=plan.timeout_s + 1)
    total_s = plan.warmup_s + plan.duration_s
    deadline = start_at + total_s + plan.timeout_s + EXIT_GRACE_S + 5 * workers
    finished: set[int] = set()
    try:
        for p in processes:
            p.start()
        last_tick = 0.0
        while len(finished) < workers:
            try:
                report = reports.get(timeout=0.25)
            except queues.Empty:
                report = None
            if report is not None:
                figures.add(report)
                if report.final:
                    finished.add(report.worker)
            elapsed = time.time() - start_at
            if interrupted() and not stop_at.value:
                # A whole second boundary far enough ahead for every worker to see it in time
                # (they look once a second), so the window holds exactly what was sent in it.
                stop_at.value = float(int(elapsed) + 2)
                figures.stopped_at(stop_at.value)
            figures.close_before(elapsed)
            if time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                on_tick(figures, elapsed)
            if figures.failures:
                raise RunFailed(f"the load generator failed: {figures.failures[0]}")
            dead = [
                i for i, p in enumerate(processes) if i not in finished and p.exitcode is not None
            ]
            if dead and reports.empty():
                raise RunFailed(f"load generator worker {dead[0]} exited without reporting")
            if time.time() > deadline:
                raise RunFailed("the load generator's workers did not finish in time")
    finally:
        for p in processes:
            p.join(EXIT_GRACE_S if p.exitcode is None and len(finished) == workers else 0.1)
            if p.exitcode is None:
                p.terminate()
                p.join(5)
        reports.close()
        reports.join_thread()
    figures.close_all()
    return figures


class Stopping:
    """SIGINT or SIGTERM once: stop sending, finish, report (as k6 does). Twice: stop now
    (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self._requested = False
        self._previous: dict[int, Any] = {}

    def requested(self) -> bool:
        return self._requested

    def _handle(self, signum: int, frame: object) -> None:
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True

    def __enter__(self) -> Stopping:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
