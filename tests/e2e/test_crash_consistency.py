"""A write in flight at kill -9 is stored whole or not at all, even when its points span several
UTC days (one part per day), and the client's retry of every request it got no answer for ends
with each request stored exactly once: the insert journal rolls back inserts a crash cut short,
and a retry of one that was stored is recognised by its content."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.server import LuminateProcess

DAY_MS = 86_400_000
POINTS = 30_000  # per request, spread over six UTC days
ROUNDS = 5


@dataclass
class Sent:
    request: str
    body: bytes
    acknowledged: bool = False


@dataclass
class Writer:
    """Sends requests one after another until the server dies under it."""

    proc: LuminateProcess
    headers: dict[str, str]
    sent: list[Sent] = field(default_factory=list)

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                request = uuid.uuid4().hex[:12]
                item = Sent(request, body(request))
                self.sent.append(item)
                try:
                    resp = client.post(
                        f"{self.proc.url}/api/v1/write", content=item.body, headers=self.headers
                    )
                except httpx.HTTPError:
                    return
                if resp.status_code != 200:
                    return
                item.acknowledged = True


def body(request: str) -> bytes:
    import msgspec

    now = time.time_ns() // 1_000_000
    return msgspec.json.encode(
        {
            "metrics": [
                {
                    "name": "crash",
                    "timestamp": now - (i % 6) * DAY_MS - i,
                    "value": 1.0,
                    "dimensions": {"request": request},
                }
                for i in range(POINTS)
            ]
        }
    )


def stored(proc: LuminateProcess, headers: dict[str, str], request: str) -> int:
    resp = httpx.post(
        f"{proc.url}/api/v1/query",
        json={
            "queryType": "aggregate",
            "metricName": "crash",
            "timeRange": {"relative": "7d"},
            "filters": {"request": request},
            "aggregation": "count",
        },
        headers=headers,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    rows = resp.json()["results"]
    return int(rows[0]["count"]) if rows else 0


def test_a_crash_never_leaves_part_of_a_request_and_retries_store_it_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    data = tmp_path / "data"
    # fsync on, as in production: each day's part is synced, which widens the moment between
    # the first part and the last being stored that a kill can fall into.
    env = {"LUMINATE_STORAGE_FSYNC": "true"}
    proc = LuminateProcess(data_dir=data, log_path=tmp_path / "server0.log", env_extra=env)
    proc.start()
    headers = proc.headers("crash")
    cut_short = 0
    try:
        for round_ in range(ROUNDS):
            writer = Writer(proc, headers)
            thread = threading.Thread(target=writer.run)
            thread.start()
            time.sleep(rng.uniform(0.3, 1.2))
            proc.signal(signal.SIGKILL)
            thread.join(60)
            assert proc.proc is not None
            proc.proc.wait(10)
            log = tmp_path / f"server{round_ + 1}.log"
            proc = LuminateProcess(data_dir=data, log_path=log, env_extra=env)
            proc.start()
            # Before any retry: every request is stored whole or not at all.
            unanswered = [s for s in writer.sent if not s.acknowledged]
            for s in writer.sent:
                count = stored(proc, headers, s.request)
                assert count in (0, POINTS), (s.request, s.acknowledged, count)
                if s.acknowledged:
                    assert count == POINTS
                elif count == 0:
                    cut_short += 1
            # The client retries what it got no answer for; each ends stored exactly once.
            for s in unanswered:
                resp = httpx.post(
                    f"{proc.url}/api/v1/write", content=s.body, headers=headers, timeout=60
                )
                assert resp.status_code == 200, resp.text
                assert stored(proc, headers, s.request) == POINTS
        assert cut_short > 0, "no request was in flight at any kill; the test proved nothing"
    finally:
        proc.kill()
