"""A real Prometheus (Debian's `prometheus`) on a free loopback port, with its own config and
data directory, and its HTTP API for queries, rules and alerts."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.loopback import LoopbackServer

BINARY = "prometheus"


class PrometheusError(RuntimeError):
    """The API answered an error (bad query, unknown endpoint)."""


@dataclass
class Prometheus(LoopbackServer):
    config: Path = field(kw_only=True)

    def start(self, timeout_s: float = 60.0) -> Prometheus:
        data = self.base_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            f"--config.file={self.config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address={self.address}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]
        self.launch("prometheus", BINARY, args, timeout_s)
        return self

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the `data` of a success, PrometheusError with the error else."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310  (loopback only)
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (or scalar as a one-element list)."""
        data = self.api("query", query=expr)
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets")["activeTargets"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])
