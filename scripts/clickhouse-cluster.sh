#!/usr/bin/env bash
# The loopback ClickHouse test cluster (ZooKeeper and luminate_cluster on 127.0.0.1) for operators:
# runs `python -m testbed.clickhouse` in the project's venv. `--help` lists commands and variables.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -x "$root/.venv/bin/python" ]; then
	echo "clickhouse-cluster.sh: no $root/.venv; run scripts/setup.sh --test first" >&2
	exit 1
fi
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
# -P: the caller's working directory must not shadow the project's packages.
exec "$root/.venv/bin/python" -P -m testbed.clickhouse "$@"
