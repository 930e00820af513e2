#!/usr/bin/env bash
# Set up everything and run the whole test suite: lint, types, unit, contract and end-to-end tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k write).
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Every tool the tests run (Debian packages: ClickHouse, ZooKeeper, shellcheck, ...).
scripts/setup-tools.sh
# tests/deployment: schemas of the custom resources (npm, pinned) and checkov (its own venv).
scripts/fetch-crd-schemas.sh
scripts/setup-checkov.sh
# The web UI's chart library, vendored from npm (pinned, checked); tests compare it to the package.
scripts/vendor-uplot.sh

echo "== ruff" && .venv/bin/ruff check src tests bench deployments testbed && .venv/bin/ruff format --check src tests bench deployments testbed
echo "== mypy" && .venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
