#!/usr/bin/env bash
# Install the schemas of the custom resources Luminate's manifests use (SealedSecret,
# ExternalSecret, SecretStore) into .tools/crd-schemas, for tests/deployment.
#
# They come from the npm registry, pinned by version: the two schema packages are checked against
# the sha256 sums below, and everything they depend on against the integrity hashes of
# tests/deployment/tools/crd-schemas/package-lock.json (npm ci). Idempotent: a second run only
# compares a stamp.
set -euo pipefail

cd "$(dirname "$0")/.."
spec=tests/deployment/tools/crd-schemas
dest=.tools/crd-schemas

# package@version and the sha256 of its registry tarball
pinned=(
  "@kubernetes-models/sealed-secrets@6.0.0 95b4f2f0959f8117e1f4fb3c9d76bd9ac0493967c785825792fc4cb5493f94cf"
  "@kubernetes-models/external-secrets@2.0.0 c1202c6a6caa54afedb4208c1216992b6fcb36cf7623637e0e4a98b70f23ea77"
)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "fetch-crd-schemas: installing nodejs and npm from Debian" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi

want="$(cat "$spec/package.json" "$spec/package-lock.json" "$0" | sha256sum | cut -d' ' -f1)"
if [ -d "$dest/node_modules" ] && [ "$(cat "$dest/.stamp" 2>/dev/null || true)" = "$want" ]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for entry in "${pinned[@]}"; do
  package="${entry% *}"
  sum="${entry#* }"
  tarball="$(npm pack --silent --pack-destination "$work" "$package" | tail -n 1)"
  if ! echo "$sum  $work/$tarball" | sha256sum --check --quiet -; then
    echo "fetch-crd-schemas: $package does not have the pinned sha256 $sum" >&2
    exit 1
  fi
done

rm -rf "$dest"
mkdir -p "$dest"
cp "$spec/package.json" "$spec/package-lock.json" "$dest/"
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" > "$dest/.stamp"
echo "fetch-crd-schemas: installed into $dest"
