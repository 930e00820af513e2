#!/usr/bin/env bash
# Vendor the uPlot chart library into the web UI's static files
# (src/luminate/ui/static/vendor/uplot/), from the npm registry, pinned by version and checked
# against the sha256 of its registry tarball and the registry's sha512 integrity string.
#
# The verified tarball is kept in .tools/uplot/ so that tests/unit/test_ui_vendor.py can prove
# the committed files are byte for byte the pinned package's. Idempotent: a second run only
# checks. Usage: scripts/vendor-uplot.sh
set -euo pipefail

cd "$(dirname "$0")/.."
version=1.6.32
sha256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
integrity=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
cache=.tools/uplot
tarball="$cache/uplot-$version.tgz"
dest=src/luminate/ui/static/vendor/uplot
# file in the package -> file in the UI
files=(
  "package/dist/uPlot.esm.js uPlot.esm.js"
  "package/dist/uPlot.min.css uPlot.min.css"
  "package/LICENSE LICENSE"
)

verified() {
  [ -f "$1" ] &&
    echo "$sha256  $1" | sha256sum --check --quiet - 2>/dev/null &&
    [ "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)" = "$integrity" ]
}

if ! verified "$tarball"; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "vendor-uplot: installing npm from Debian" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  name="$(npm pack --silent --pack-destination "$work" "uplot@$version" | tail -n 1)"
  if ! verified "$work/$name"; then
    echo "vendor-uplot: uplot@$version does not have the pinned sha256 $sha256 / $integrity" >&2
    exit 1
  fi
  mkdir -p "$cache"
  mv "$work/$name" "$tarball"
fi

mkdir -p "$dest"
changed=0
for entry in "${files[@]}"; do
  member="${entry% *}"
  target="$dest/${entry#* }"
  if ! tar -xzOf "$tarball" "$member" | cmp -s - "$target"; then
    tar -xzOf "$tarball" "$member" > "$target"
    changed=1
  fi
done
[ "$changed" -eq 0 ] || echo "vendor-uplot: uplot@$version written to $dest"
