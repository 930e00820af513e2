"""An embedded store filled or inspected in a child process (chDB holds one data directory per
process, and the test process may not hold any)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

_FILL = textwrap.dedent(
    """
    import sys, time
    from luminate.app import build_storage
    from luminate.settings import load_settings
    from luminate.storage.store import TenantPoints
    rows, parts = int(sys.argv[1]), int(sys.argv[2])
    storage = build_storage(load_settings())
    storage.migrate()
    day = 86_400_000
    base = (int(time.time() * 1000) // day) * day - 3 * day
    for p in range(parts):
        batch = TenantPoints(f"t{p % 3}")
        for i in range(rows // parts):
            n = p * rows + i
            batch.names.append(f"m{n % 4}")
            batch.timestamps.append(base + (n % 3) * day + n)
            batch.values.append(n * 0.25)
            batch.keys.append(["host"])
            batch.dim_values.append([f"h{n % 9}"])
        storage.write([batch])
    storage.close()
    """
)
_INSPECT = textwrap.dedent(
    """
    import json
    from luminate.app import build_storage
    from luminate.settings import load_settings
    storage = build_storage(load_settings())
    rows = storage.engine.select(
        "SELECT tenant_id, metric_name, intDiv(timestamp_ms, 86400000), count(), "
        "sum(cityHash64(timestamp_ms, value, dim_keys, dim_values)) FROM samples "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).rows
    storage.close()
    print(json.dumps(rows))
    """
)


def _env(data_dir: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUMINATE_")}
    return {
        **env,
        "LUMINATE_DATA_DIR": str(data_dir),
        "LUMINATE_STORAGE_FSYNC": "false",
        **(extra or {}),
    }


def fill(data_dir: Path, rows: int, parts: int = 4, extra: dict[str, str] | None = None) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FILL, str(rows), str(parts)],
        env=_env(data_dir, extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def inspect(data_dir: Path, extra: dict[str, str] | None = None) -> list[Any]:
    """Rows and a checksum per tenant, metric and day, as the engine reads the store."""
    out = subprocess.run(
        [sys.executable, "-c", _INSPECT],
        env=_env(data_dir, extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    rows: list[Any] = json.loads(out.stdout)
    return rows
