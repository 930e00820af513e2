"""Long backup operations run in a thread of the process that owns the data (the server for
the embedded store, the agent beside a ClickHouse server) and are followed by polling: one job
at a time, its progress and outcome kept for the caller to read."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec


class JobState(msgspec.Struct):
    id: str
    kind: str
    state: str = "running"  # running | done | failed
    step: str = ""
    done: int = 0
    total: int = 0
    unit: str = ""
    result: dict[str, Any] = msgspec.field(default_factory=dict)
    error: str = ""
    error_kind: str = ""
    started: float = 0.0
    finished: float = 0.0


class JobProgress:
    """A Progress that records into the job's state (read by the polling caller)."""

    def __init__(self, state: JobState, lock: threading.Lock) -> None:
        self._state = state
        self._lock = lock

    def step(self, text: str) -> None:
        with self._lock:
            self._state.step = text
            self._state.done = self._state.total = 0

    def advance(self, done: int, total: int, unit: str) -> None:
        with self._lock:
            self._state.done, self._state.total, self._state.unit = done, total, unit


@dataclass
class Jobs:
    """At most one job runs; starting while one runs returns the running one."""

    keep: int = 20
    _jobs: dict[str, JobState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self, kind: str, work: Callable[[JobProgress], dict[str, Any]]
    ) -> tuple[JobState, bool]:
        """(the job, whether it is new)."""
        with self._lock:
            for job in self._jobs.values():
                if job.state == "running":
                    return msgspec.structs.replace(job), False
            job = JobState(id=uuid.uuid4().hex[:16], kind=kind, started=time.time())
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.pop(next(iter(self._jobs)))
        thread = threading.Thread(
            target=self._run, args=(job, work), name=f"luminate-{kind}", daemon=True
        )
        thread.start()
        return msgspec.structs.replace(job), True

    def _run(self, job: JobState, work: Callable[[JobProgress], dict[str, Any]]) -> None:
        try:
            result = work(JobProgress(job, self._lock))
        except Exception as exc:  # reported to the caller, who prints it
            with self._lock:
                job.state, job.error = "failed", str(exc) or type(exc).__name__
                job.error_kind = type(exc).__name__
                job.finished = time.time()
            return
        with self._lock:
            job.state, job.result, job.finished = "done", result, time.time()

    def get(self, job_id: str) -> JobState | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return msgspec.structs.replace(job) if job else None
