#!/usr/bin/env bash
# Set up and run Luminate on the embedded store (data in ./luminate-data), listening on :8080.
# Prints a read/write/admin token for tenant "demo" first. Any LUMINATE_* setting can be exported.
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/setup.sh

if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_SECRET_FILE:-}" ]; then
  mkdir -p .luminate
  if [ ! -s .luminate/jwt-secret ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > .luminate/jwt-secret)
  fi
  export JWT_SECRET_FILE="$PWD/.luminate/jwt-secret"
fi

echo "Token for tenant demo (read,write,admin; 24h):" >&2
.venv/bin/luminate token create --tenant demo --scopes read,write,admin --ttl 24h >&2
exec .venv/bin/luminate serve
