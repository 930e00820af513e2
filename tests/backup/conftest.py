"""Real servers for the backup tests: SeaweedFS's S3 gateway and a Prometheus Pushgateway on
loopback, one of each for the session (tests that stop S3 start their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.pushgateway import Pushgateway
from testbed.s3 import S3Server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushgateway]:
    gateway = Pushgateway(tmp_path_factory.mktemp("pushgateway")).start()
    try:
        yield gateway
    finally:
        gateway.stop()
