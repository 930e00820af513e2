"""A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port, with its
own config and data directory, clustering off."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.net import free_port
from testbed.process import ManagedProcess

BINARY = "prometheus-alertmanager"


@dataclass
class Alertmanager:
    config: Path
    base_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Alertmanager:
        data = self.base_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(
            "alertmanager",
            [
                BINARY,
                f"--config.file={self.config}",
                f"--storage.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # One instance: no gossip port to collide with anything.
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            self.base_dir / "alertmanager.log",
        ).start()
        self.process.wait_until(self.ready, timeout_s, "ready")
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds (API v2), active, silenced and inhibited alike."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=10) as r:  # noqa: S310
            return list(json.load(r))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
