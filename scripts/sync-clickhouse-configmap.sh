#!/usr/bin/env bash
# Refresh the copies of deployments/clickhouse/ that the production kustomization turns into the
# `clickhouse-config` and `pod-env` ConfigMaps (kustomize only reads files below its own folder).
# Run it after changing anything in deployments/clickhouse/; tests/deployment fails, naming the
# file, while a copy differs from what render.py produces.
set -euo pipefail

cd "$(dirname "$0")/.."
target=deployments/kubernetes/production/clickhouse
mkdir -p "$target"
python3 deployments/clickhouse/render.py production --out "$target"
if ! cmp -s deployments/clickhouse/pod-env.sh "$target/pod-env.sh"; then
  cp deployments/clickhouse/pod-env.sh "$target/pod-env.sh"
  echo "wrote $target/pod-env.sh"
fi
