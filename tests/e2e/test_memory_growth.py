"""Memory of a served process under hostile bodies: sending the whole set of
tests/e2e/hostile.py again and again, every body answered with its 4xx and stable code, does
not grow the process's resident memory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx

from tests.e2e.hostile import HOSTILE, MIB, TIMEOUT_S, assert_alive, check_answer
from tests.e2e.server import LuminateProcess


def resident_bytes(proc: LuminateProcess) -> int:
    text = httpx.get(proc.internal_url + "/metrics", timeout=TIMEOUT_S).text
    match = re.search(r"^process_resident_memory_bytes ([0-9.e+]+)$", text, flags=re.MULTILINE)
    assert match, "process_resident_memory_bytes missing from /metrics"
    return int(float(match.group(1)))


ROUNDS = 4
GROWTH_BOUND = 50 * MIB


def test_repeated_hostile_bodies_do_not_grow_memory(
    start_server: Callable[..., LuminateProcess],
) -> None:
    """Retaining any of the large bodies (10 to 14 MB each) once per round would cross the bound
    within the later rounds; allocator warm-up settles in the first."""
    proc = start_server()
    headers = proc.headers("memory", "read,write,admin")
    bodies = [(case, case.body()) for case in HOSTILE]
    rss = []
    for _ in range(ROUNDS):
        for case, body in bodies:
            check_answer(case, case.send(proc, headers, body))
        assert_alive(proc)
        rss.append(resident_bytes(proc))
    # The first round warms up (allocator arenas, caches, the engine); later rounds must not
    # add to it.
    growth = max(rss[1:]) - rss[0]
    report = json.dumps([round(r / MIB, 1) for r in rss])
    assert growth < GROWTH_BOUND, f"resident MiB per round: {report}"
