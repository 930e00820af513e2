"""The two listeners of `luminate serve`: the public port serves the API and the probes, the
internal port the self-metrics, the detailed health report and the probes; ports are checked at
start; the self-metrics stay bounded and are rendered off the event loop."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.net import free_port
from tests.e2e.selfmetrics import delta, metrics_text, scrape
from tests.e2e.server import LuminateProcess
from tests.support.clock import now_ms
from tests.support.tenants import new_tenant


def point(name: str, value: float, **dimensions: str) -> dict[str, Any]:
    return {"name": name, "timestamp": now_ms() - 1000, "value": value, "dimensions": dimensions}


def serve_once(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = LuminateProcess(tmp_path / "data", tmp_path / "server.log", env_extra=env)
    return subprocess.run(
        [sys.executable, "-m", "luminate", "serve"],
        env=proc.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def get(
    proc: LuminateProcess, path: str, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.get(proc.url + path, headers=dict(headers or {}), timeout=10)


def get_internal(proc: LuminateProcess, path: str) -> httpx.Response:
    return httpx.get(proc.internal_url + path, timeout=10)


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/health"])
def test_public_port_does_not_serve_internal_endpoints(server: LuminateProcess, path: str) -> None:
    public = get(server, path)
    assert public.status_code == 404
    assert public.json()["error"]["code"] == "not_found"
    assert get_internal(server, path).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/startupz"])
def test_probes_answer_on_both_ports(server: LuminateProcess, path: str) -> None:
    assert get(server, path).status_code == 200
    assert get_internal(server, path).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/metrics", "/openapi.json", "/api/v1/write"])
def test_internal_port_serves_no_api(server: LuminateProcess, path: str) -> None:
    response = httpx.get(
        server.internal_url + path, headers=server.headers(new_tenant(), "read"), timeout=10
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_equal_ports_are_refused_at_start(tmp_path: Path) -> None:
    port = str(free_port())
    out = serve_once(tmp_path, LUMINATE_SERVER_PORT=port, LUMINATE_SERVER_INTERNAL_PORT=port)
    assert out.returncode == 2, out.stderr[-500:]
    assert "LUMINATE_SERVER_INTERNAL_PORT" in out.stderr
    assert "must differ" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_internal_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = serve_once(tmp_path, LUMINATE_SERVER_INTERNAL_PORT=str(port))
    assert out.returncode == 2, out.stderr[-500:]
    assert f"cannot listen on 127.0.0.1:{port} (LUMINATE_SERVER_INTERNAL_PORT)" in out.stderr
    assert "Traceback" not in out.stderr


def test_refused_internal_paths_are_counted_as_unmatched(server: LuminateProcess) -> None:
    before = scrape(server)
    assert get(server, "/metrics").status_code == 404
    after = scrape(server)
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    assert delta(before, after, "luminate_http_requests_total", **labels) == 1
    assert (
        delta(before, after, "luminate_http_requests_total", **{**labels, "route": "/metrics"}) == 0
    )


def test_method_label_is_bounded(server: LuminateProcess) -> None:
    before = scrape(server)
    for method in ("FOOBAR", "PROPFIND", "X" * 40):
        response = httpx.request(method, server.url + "/api/v1/metrics", timeout=10)
        assert response.status_code == 405
    after = scrape(server)
    text = metrics_text(server)
    assert "FOOBAR" not in text
    assert "PROPFIND" not in text
    counted = delta(
        before,
        after,
        "luminate_http_requests_total",
        method="other",
        route="/api/v1/metrics",
        status="405",
    )
    assert counted == 3


def test_scrapes_under_load_keep_requests_answered(server: LuminateProcess) -> None:
    """Scrapes render off the event loop: while writers from many tenants (hundreds of label
    sets) keep the server busy, every scrape and every write is answered."""
    failures: list[str] = []

    def writer(n: int) -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(40):
                tenant = f"load-{n}-{i}-{uuid.uuid4().hex[:6]}"
                r = client.post(
                    server.url + "/api/v1/write",
                    json={
                        "metrics": [point("load_probe", float(i), host=f"h{j}") for j in range(50)]
                    },
                    headers=server.headers(tenant, "write"),
                )
                if r.status_code != 200:
                    failures.append(f"write {r.status_code}")

    def scraper() -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(30):
                r = client.get(server.internal_url + "/metrics")
                if r.status_code != 200 or "luminate_tenant_active_series" not in r.text:
                    failures.append(f"scrape {r.status_code}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=scraper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert len([s for s in scrape(server) if s[0] == "luminate_tenant_active_series"]) >= 120
