#!/usr/bin/env bash
# Install checkov, the static policy scanner tests/deployment runs over the built manifests and the
# Dockerfile, into its own virtualenv .tools/checkov-venv: its dependencies conflict with the
# project's pins, so it never goes into .venv. Every package is pinned in
# tests/deployment/tools/checkov-requirements.txt. Idempotent: a second run only compares a stamp.
set -euo pipefail

cd "$(dirname "$0")/.."
requirements=tests/deployment/tools/checkov-requirements.txt
venv=.tools/checkov-venv

want="$(sha256sum <"$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/checkov" ] && [ "$(cat "$venv/.stamp" 2>/dev/null || true)" = "$want" ]; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q --no-deps --require-virtualenv -r "$requirements"
"$venv/bin/python" -m pip check
echo "$want" > "$venv/.stamp"
echo "setup-checkov: $("$venv/bin/checkov" --version) installed into $venv"
