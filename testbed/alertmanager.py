"""A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port, with its
own config and data directory, clustering off."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.loopback import LoopbackServer

BINARY = "prometheus-alertmanager"


@dataclass
class Alertmanager(LoopbackServer):
    config: Path = field(kw_only=True)

    def start(self, timeout_s: float = 60.0) -> Alertmanager:
        data = self.base_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            f"--config.file={self.config}",
            f"--storage.path={data}",
            f"--web.listen-address={self.address}",
            # One instance: no gossip port to collide with anything.
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        self.launch("alertmanager", BINARY, args, timeout_s)
        return self

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds (API v2), active, silenced and inhibited alike."""
        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=10) as r:  # noqa: S310
            return list(json.load(r))
