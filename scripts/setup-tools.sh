#!/usr/bin/env bash
# Install (as root, from Debian) every tool the test suite runs, so that no test is skipped on a
# fresh machine for a missing tool. Idempotent: packages already installed are left alone.
# Usage: scripts/setup-tools.sh
set -euo pipefail

# One package per line: what the tests use it for.
packages=(
  clickhouse-server # tests/contract, tests/clickhouse: a real server and the 2x2 cluster
  clickhouse-client #   its client, used by the cluster harness
  zookeeper         #   the cluster's coordination ensemble
  shellcheck        # lint of every shell script the project ships
  chromium          # tests/e2e/ui: the web UI in a real browser (driven by Playwright)
  fonts-dejavu-core #   text in its screenshots (chromium itself pulls in no font)
  prometheus        # tests/monitoring, tests/protocols: promtool and a live Prometheus (remote_write, the PromQL oracle)
  prometheus-alertmanager # tests/monitoring: amtool (config, routes) and a live Alertmanager
  prometheus-pushgateway  # tests/monitoring, tests/backup: the backup job's metrics
  haproxy           # tests/clickhouse, bench: the balancer in front of several luminate processes
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-tools: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup-tools: installing ${missing[*]} from Debian" >&2
  apt-get update -q
  # Package scripts must not start system services (Prometheus, Alertmanager, ...): the tests
  # start their own on free loopback ports. policy-rc.d is removed again afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -z "$own_policy" ] || rm -f "$policy"
fi
