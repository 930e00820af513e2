"""A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.net import free_port
from testbed.process import ManagedProcess, ProcessError

BINARY = "prometheus-pushgateway"


@dataclass
class Pushgateway:
    base_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, timeout_s: float = 30.0) -> Pushgateway:
        binary = shutil.which(BINARY)
        if binary is None:
            raise FileNotFoundError(f"{BINARY} not found: scripts/setup-tools.sh installs it")
        argv = [
            binary,
            f"--web.listen-address=127.0.0.1:{self.port}",
            # Debian's build persists to a shared file under /var/lib by default: another
            # gateway's series would appear here, and ours there.
            f"--persistence.file={self.base_dir / 'pushgateway.data'}",
        ]
        self.process = ManagedProcess("pushgateway", argv, self.base_dir / "pushgateway.log")
        self.process.start().wait_until(self.ready, timeout_s, "ready")
        still_ours(self.process)
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def groups(self) -> list[dict[str, Any]]:
        """The metric groups it holds (its /api/v1/metrics answer)."""
        with urllib.request.urlopen(self.url + "/api/v1/metrics", timeout=5) as answer:  # noqa: S310
            data: list[dict[str, Any]] = json.load(answer)["data"]
            return data

    def exposition(self) -> str:
        """What Prometheus would scrape."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as answer:  # noqa: S310
            return str(answer.read().decode())

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=10)


def still_ours(process: ManagedProcess, settle_s: float = 0.3) -> None:
    """A port found open may be another program's if ours failed to bind: ours must still run."""
    time.sleep(settle_s)
    if not process.running():
        raise ProcessError(f"{process.name} exited after start:\n{process.tail()}")
