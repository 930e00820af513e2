"""What a served process writes to its output: every line is a JSON object with a request id,
uvicorn's own lines included. (The in-process tier checks the request ids of Luminate's own
log lines; only a process has an output of its own.)"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from tests.e2e.server import LuminateProcess
from tests.support.logs import log_entries


def get(
    proc: LuminateProcess, path: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.get(proc.url + path, headers=dict(headers or {}), timeout=10)


def test_every_log_line_is_a_json_object_with_a_request_id(server: LuminateProcess) -> None:
    assert httpx.get(server.internal_url + "/api/v1/health", timeout=10).status_code == 200
    entries = log_entries(server.log_path)
    assert entries
    for entry in entries:
        assert isinstance(entry.get("request_id"), str), entry
        assert entry["request_id"]
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), entry
    assert any(e["msg"] == "started" for e in entries)
