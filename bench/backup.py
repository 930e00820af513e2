"""`python -m bench.backup`: backup and restore throughput of the embedded store.

A store of `--points` points (the benchmark's data shape: 1,000 customers, 50 endpoints,
5 regions, a user id per point, one hour of timestamps, inserted in parts of 1M points) is
backed up to a SeaweedFS S3 server on loopback with `luminate backup create --no-verify`, the
backup is verified (`luminate backup verify`: a scratch restore compared with the manifest), and
restored into an empty directory (`luminate backup restore`). Each step is a real `luminate`
process, timed from start to exit (process start-up and the checksum pass included). MB/s is
the backup's size (what the engine wrote to S3) over the step's time; points/s likewise."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed.s3 import S3Server
from tests.support.cli import clean_env

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_FILL = textwrap.dedent(
    """
    import sys, time
    from luminate.app import build_storage
    from luminate.settings import load_settings
    from luminate.storage.sql import MaintenanceStatement
    points, part = int(sys.argv[1]), int(sys.argv[2])
    storage = build_storage(load_settings())
    storage.migrate()
    end = int(time.time() * 1000)
    columns = "tenant_id, metric_name, timestamp_ms, value, extra_keys, extra_values"
    values = (
        "[concat('cust_', toString(number % 1000)), concat('/ep/', toString(number % 50)), "
        "concat('r', toString(number % 5)), "
        "concat('u', toString(cityHash64(number) % 1000000))]"
    )
    for start in range(0, points, part):
        n = min(part, points - start)
        storage.engine.execute(MaintenanceStatement(
            f"INSERT INTO samples ({columns}) SELECT 'bench', 'api_latency', "
            f"{end} - 3600000 + intDiv(number * 3600000, {points}), "
            "exp(3.4 + 0.5 * sin(number)), ['customer_id', 'endpoint', 'region', 'user_id'], "
            f"{values} FROM numbers({start}, {n})",
            "benchmark bulk load",
        ))
    storage.close()
    """
)


def _env(s3: S3Server, data_dir: Path, prefix: str) -> dict[str, str]:
    key, secret = s3.credential_files()
    env = clean_env()
    env.update(
        {
            "LUMINATE_DATA_DIR": str(data_dir),
            "LUMINATE_BACKUP_BUCKET": f"s3://{s3.bucket}/{prefix}",
            "LUMINATE_BACKUP_S3_ENDPOINT": s3.endpoint,
            "LUMINATE_BACKUP_S3_ACCESS_KEY_FILE": str(key),
            "LUMINATE_BACKUP_S3_SECRET_KEY_FILE": str(secret),
        }
    )
    return env


def _timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    began = time.monotonic()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=7200, check=False)
    took = time.monotonic() - began
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv[2:])} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return took, json.loads(out.stdout)


def run(points: int, part: int, work: Path) -> dict[str, Any]:
    s3 = S3Server(work / "s3").start()
    try:
        source, target = work / "source", work / "target"
        env = _env(s3, source, "bench")
        began = time.monotonic()
        subprocess.run(
            [sys.executable, "-c", _FILL, str(points), str(part)], env=env, check=True, timeout=7200
        )
        fill_s = time.monotonic() - began
        luminate = [sys.executable, "-m", "luminate", "backup"]
        backup_s, created = _timed([*luminate, "create", "--no-verify", "--json"], env)
        verify_s, _ = _timed([*luminate, "verify", created["id"], "--json"], env)
        restore_env = _env(s3, target, "bench")
        restore_s, restored = _timed([*luminate, "restore", created["id"], "--json"], restore_env)
    finally:
        s3.stop()
    size = int(created["size_bytes"])
    assert created["rows"] == points == restored["restored_rows"]

    def rates(seconds: float) -> dict[str, float]:
        return {
            "seconds": round(seconds, 2),
            "mb_per_s": round(size / 1e6 / seconds, 1),
            "points_per_s": round(points / seconds),
        }

    return {
        "points": points,
        "part_points": part,
        "backup_bytes": size,
        "bytes_per_point": round(size / points, 2),
        "fill_seconds": round(fill_s, 1),
        "backup": rates(backup_s),
        "verify": rates(verify_s),
        "restore": rates(restore_s),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--part-points", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="luminate-bench-backup-") as work:
        result = run(args.points, args.part_points, Path(work))
    load = os.getloadavg()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1m_at_end": round(load[0], 1),
    }
    print(f"{result['points']:,} points, backup {result['backup_bytes'] / 1e6:.1f} MB")
    print(f"{'step':<8} {'seconds':>8} {'MB/s':>8} {'points/s':>12}")
    for step in ("backup", "verify", "restore"):
        r = result[step]
        print(f"{step:<8} {r['seconds']:>8} {r['mb_per_s']:>8} {r['points_per_s']:>12,}")
    output = args.output or RESULTS_DIR / f"backup-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
