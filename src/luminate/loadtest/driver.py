"""One load-generator process: sends a plan's writes and queries and reports what happened.

Open loop (`rate`): requests leave on a fixed schedule whatever the server's answers, as
independent clients would send them; at most `max_in_flight` are outstanding, and when that cap
holds one back the delay is reported as lag (the generator fell behind). Closed loop (`vus`):
each virtual user sends its next request when its previous one is answered, on its own
keep-alive connection, after `think_s`.

Requests are never retried; each one is counted under the second of the run in which it
started. The process sends a `Report` to the reporting process about once a second and a final
one, with every acknowledged batch, when the plan ends."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import msgspec

from luminate.loadtest.connection import Connection, ProtocolError, Target, request_head
from luminate.loadtest.scenarios import QueryScenario, WriteScenario
from luminate.loadtest.tally import NO_ANSWER, Acknowledged, Report, Tally

REPORT_EVERY_S = 1.0
RECONNECT_PAUSE_S = 0.05


@dataclass(frozen=True)
class Load:
    """How one scenario is driven: `rate` requests/s (open loop) or `vus` virtual users."""

    rate: float = 0.0
    vus: int = 0


@dataclass(frozen=True)
class Plan:
    url: str
    tokens: dict[str, str]
    """tenant -> bearer token."""
    write: Load | None
    query: Load | None
    """The whole run's load per scenario; each worker takes its share."""
    batch_size: int
    warmup_s: float
    duration_s: float
    timeout_s: float
    max_in_flight: int
    think_s: float
    seed: int
    run_id: str
    worker: int
    workers: int
    start_at: float
    """Wall-clock (epoch) second at which every worker begins."""


class _WriteAnswer(msgspec.Struct):
    accepted: int = 0
    rejected: int = 0


class _ErrorBody(msgspec.Struct):
    code: str = ""
    message: str = ""


class _ErrorAnswer(msgspec.Struct):
    error: _ErrorBody | None = None


@dataclass
class _Driver:
    plan: Plan
    queue: Queue[Report]
    stop_at: Synchronized[float]
    """Set by the reporting process to end the run early (interrupted): the second of the run
    after which no request starts (0: not set)."""
    target: Target = field(init=False)
    t0: float = 0.0
    end: float = 0.0
    tallies: dict[tuple[int, str], Tally] = field(default_factory=dict)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    lag_s: float = 0.0
    idle: list[Connection] = field(default_factory=list)
    last_cpu: float = field(default_factory=time.process_time)
    last_wall: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.target = Target(self.plan.url)
        tenants = sorted(self.plan.tokens)
        p = self.plan
        self.auth = {t: f"Bearer {tok}" for t, tok in p.tokens.items()}
        self.writes = WriteScenario(tenants, p.batch_size, p.run_id, p.worker, p.workers, p.seed)
        self.queries = QueryScenario(tenants, p.worker, p.seed)

    def tally(self, started: float, scenario: str) -> Tally:
        key = (int(started - self.t0), scenario)
        found = self.tallies.get(key)
        if found is None:
            found = self.tallies[key] = Tally()
        return found

    async def run(self) -> None:
        p = self.plan
        self.t0 = time.monotonic() + max(0.0, p.start_at - time.time())
        self.end = self.t0 + p.warmup_s + p.duration_s
        await asyncio.sleep(max(0.0, self.t0 - time.monotonic()))
        reporter = asyncio.create_task(self._report_forever())
        senders: list[Awaitable[None]] = []
        for name, load in (("write", p.write), ("query", p.query)):
            if load is None:
                continue
            step = self.write_once if name == "write" else self.query_once
            # This worker's share of the scenario's rate and virtual users.
            if load.rate > 0:
                senders.append(self._open_loop(load.rate / p.workers, step))
            vus = load.vus // p.workers + (1 if p.worker < load.vus % p.workers else 0)
            senders.extend(self._user(step) for _ in range(vus))
        await asyncio.gather(*senders)
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        for conn in self.idle:
            conn.close()

    async def _open_loop(
        self, rate: float, step: Callable[[Connection | None], Awaitable[Connection | None]]
    ) -> None:
        slots = asyncio.Semaphore(self.plan.max_in_flight)
        tasks: set[asyncio.Task[None]] = set()

        async def one() -> None:
            try:
                conn = await step(self.idle.pop() if self.idle else None)
                if conn is not None and conn.open:
                    self.idle.append(conn)
            finally:
                slots.release()

        n = 0
        while (due := self.t0 + n / rate) < self.end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await slots.acquire()
            self.lag_s = max(self.lag_s, time.monotonic() - due)
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await self._finish(tasks)

    async def _user(
        self, step: Callable[[Connection | None], Awaitable[Connection | None]]
    ) -> None:
        conn: Connection | None = None
        while time.monotonic() < self.end:
            conn = await step(conn)
            if conn is None or not conn.open:
                conn = None
            if self.plan.think_s:
                await asyncio.sleep(self.plan.think_s)
        if conn is not None:
            conn.close()

    async def _finish(self, tasks: set[asyncio.Task[None]]) -> None:
        """Requests still out when the plan ends get their own timeout to finish, no more."""
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.plan.timeout_s + 1)
            for task in pending:
                task.cancel()

    async def write_once(self, conn: Connection | None) -> Connection | None:
        started = time.monotonic()
        batch = self.writes.next_batch(time.time_ns() // 1_000_000)
        head = request_head(
            self.target, "POST", "/api/v1/write", self.auth[batch.tenant], len(batch.body)
        )
        conn, status, body = await self._exchange(conn, head, batch.body, started, "write")
        if status is None:
            return conn
        tally = self.tally(started, "write")
        if status in {200, 207, 400}:  # 400: no point accepted, or a malformed body
            answer = _decode(body, _WriteAnswer)
            if answer is not None:
                tally.points += answer.accepted
                tally.rejected_points += answer.rejected
                if answer.accepted:
                    self.acknowledged.append(
                        Acknowledged(batch.tenant, batch.timestamp_ms, answer.accepted)
                    )
        return conn

    async def query_once(self, conn: Connection | None) -> Connection | None:
        started = time.monotonic()
        tenant, body = self.queries.next_query()
        head = request_head(self.target, "POST", "/api/v1/query", self.auth[tenant], len(body))
        conn, _, _ = await self._exchange(conn, head, body, started, "query")
        return conn

    async def _exchange(
        self, conn: Connection | None, head: bytes, body: bytes, started: float, scenario: str
    ) -> tuple[Connection | None, int | None, bytes]:
        """Send one request; record its status and latency. (connection to reuse or None,
        status or None when unanswered, body)."""
        reason = ""
        try:
            async with asyncio.timeout(self.plan.timeout_s):
                if conn is None or not conn.open:
                    conn = await Connection.connect(self.target)
                response = await conn.request(head, body)
        except TimeoutError:
            reason = f"timeout after {self.plan.timeout_s:g} s"
        except ConnectionRefusedError:
            reason = "connection refused"
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc.strerror or exc}"
        if reason:
            if conn is not None:
                conn.close()
            tally = self.tally(started, scenario)
            tally.statuses[NO_ANSWER] += 1
            tally.no_answer[reason] += 1
            await asyncio.sleep(RECONNECT_PAUSE_S)  # no hot loop against a target that is down
            return None, None, b""
        tally = self.tally(started, scenario)
        tally.statuses[response.status] += 1
        if 200 <= response.status < 300:
            tally.latencies_us.append(int((time.monotonic() - started) * 1e6))
        elif response.status not in tally.examples:
            tally.examples[response.status] = _error_text(response.body)
        return conn, response.status, response.body

    async def _report_forever(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            if self.stop_at.value > 0:
                self.end = min(self.end, self.t0 + self.stop_at.value)
            self.queue.put(self.report())

    def report(self, *, final: bool = False, failure: str | None = None) -> Report:
        """What happened since the previous report (CPU and wall time included)."""
        cpu, wall = time.process_time(), time.monotonic()
        taken, self.tallies = self.tallies, {}
        out = Report(
            self.plan.worker,
            taken,
            cpu - self.last_cpu,
            wall - self.last_wall,
            self.lag_s,
            final=final,
            acknowledged=self.acknowledged if final else [],
            failure=failure,
        )
        self.last_cpu, self.last_wall = cpu, wall
        return out


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError:
        return None


def _error_text(body: bytes) -> str:
    answer = _decode(body, _ErrorAnswer)
    if answer is not None and answer.error is not None:
        return f"{answer.error.code}: {answer.error.message}"[:300]
    return body.decode("utf-8", "replace").strip().replace("\n", " ")[:300]


def work(plan: Plan, queue: Queue[Report], stop_at: Synchronized[float]) -> None:
    """A worker process's entry point."""
    # Ctrl-C reaches the whole process group; the reporting process decides what it means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    driver = _Driver(plan, queue, stop_at)
    failure = None
    try:
        _run_loop(driver.run())
    except Exception:  # reported to the parent, which stops the run and says why
        failure = traceback.format_exc(limit=5)
    queue.put(driver.report(final=True, failure=failure))


def _run_loop(main: Any) -> None:
    try:
        import uvloop  # noqa: PLC0415  (uvicorn's loop: a third less CPU per request here)
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
