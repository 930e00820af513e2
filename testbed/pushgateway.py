"""A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from testbed.loopback import LoopbackServer
from testbed.process import ManagedProcess, ProcessError

BINARY = "prometheus-pushgateway"


@dataclass
class Pushgateway(LoopbackServer):
    def start(self, timeout_s: float = 30.0) -> Pushgateway:
        args = [
            f"--web.listen-address={self.address}",
            # Debian's build persists to a shared file under /var/lib by default: another
            # gateway's series would appear here, and ours there.
            f"--persistence.file={self.base_dir / 'pushgateway.data'}",
        ]
        self.launch("pushgateway", BINARY, args, timeout_s)
        assert self.process is not None
        still_ours(self.process)
        return self

    def groups(self) -> list[dict[str, Any]]:
        """The metric groups it holds (its /api/v1/metrics answer)."""
        with urllib.request.urlopen(self.url + "/api/v1/metrics", timeout=5) as answer:  # noqa: S310
            data: list[dict[str, Any]] = json.load(answer)["data"]
            return data

    def exposition(self) -> str:
        """What Prometheus would scrape."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as answer:  # noqa: S310
            return str(answer.read().decode())


def still_ours(process: ManagedProcess, settle_s: float = 0.3) -> None:
    """A port found open may be another program's if ours failed to bind: ours must still run."""
    time.sleep(settle_s)
    if not process.running():
        raise ProcessError(f"{process.name} exited after start:\n{process.tail()}")
