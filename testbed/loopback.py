"""What the Prometheus family of servers (Prometheus, Alertmanager, Pushgateway) share when run
for tests: a free loopback port, a base directory for data and log, a start that waits for
`/-/ready`, and a stop of the process started."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed.net import free_port
from testbed.process import ManagedProcess


@dataclass
class LoopbackServer:
    base_dir: Path
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def launch(self, name: str, binary: str, args: Sequence[str], timeout_s: float) -> None:
        """Start `binary` with `args` (logging to `<base_dir>/<name>.log`) and wait until it
        answers ready; FileNotFoundError naming the setup script if it is not installed."""
        path = shutil.which(binary)
        if path is None:
            raise FileNotFoundError(f"{binary} not found: scripts/setup-tools.sh installs it")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(name, [path, *args], self.base_dir / f"{name}.log")
        self.process.start().wait_until(self.ready, timeout_s, "ready")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:  # noqa: S310
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is not None:
            self.process.stop(timeout_s)
