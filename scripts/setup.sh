#!/usr/bin/env bash
# Prepare this checkout on a Debian machine (as root): Python venv with pinned dependencies.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--test]
set -euo pipefail

cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then need_apt+=(python3-venv); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python >= 3.11 is required, found {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.luminate-setup"
base="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
want="${base}${extras}"
have="$(cat "$stamp" 2>/dev/null || true)"
# A test install includes everything a plain install has.
if [ "$have" != "$want" ] && [ "$have" != "${base}[test]" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c requirements.lock -e ".${extras}"
  echo "$want" > "$stamp"
fi
