"""A real Pushgateway (Debian's `prometheus-pushgateway`) on a free loopback port: what a batch
job (the backup) pushes its metrics to, for Prometheus to scrape."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testbed.net import free_port
from testbed.process import ManagedProcess

BINARY = "prometheus-pushgateway"


@dataclass
class Pushgateway:
    base_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Pushgateway:
        self.process = ManagedProcess(
            "pushgateway",
            [
                BINARY,
                f"--web.listen-address={self.address}",
                # Debian's build persists to /var/lib/prometheus/pushgateway.data by default,
                # shared by every instance on the machine: each test gets its own file.
                f"--persistence.file={self.base_dir / 'pushgateway.data'}",
                "--log.level=warn",
            ],
            self.base_dir / "pushgateway.log",
        ).start()
        self.process.wait_until(self.ready, timeout_s, "ready")
        return self

    def ready(self) -> bool:
        try:
            url = f"http://{self.address}/-/ready"
            with urllib.request.urlopen(url, timeout=1) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
