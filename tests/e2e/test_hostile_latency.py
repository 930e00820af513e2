"""A stream of worst-case write bodies (14 MB, one point with a million dimensions) does not
stall the server: each is refused cheaply, off the event loop, while /healthz keeps answering
within 50 ms at the 99th percentile (bench/hostile.py prints the same measurement)."""

from __future__ import annotations

import uuid

from bench.hostile import probe_during, worst_case_body
from tests.e2e.server import LuminateProcess

BODIES = 10


def test_healthz_stays_fast_while_worst_case_bodies_are_refused(server: LuminateProcess) -> None:
    assert len(worst_case_body()) > 13_000_000
    headers = server.headers(f"hostile-{uuid.uuid4().hex[:8]}", "write")
    stream = probe_during(server.url, headers, BODIES)
    assert stream.answers == [(400, "too_many_dimensions")] * BODIES
    assert len(stream.probe_s) >= 30
    p50, p99 = stream.p(50), stream.p(99)
    print(f"/healthz during the stream: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    assert stream.p(99) <= 0.050, f"/healthz p99 {stream.p(99) * 1e3:.1f} ms during the stream"
