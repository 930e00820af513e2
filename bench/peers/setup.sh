#!/usr/bin/env bash
# The time-series databases `python -m bench.peers` compares Luminate with, from Debian:
# VictoriaMetrics and InfluxDB 1.x (Prometheus and ClickHouse come with scripts/setup-tools.sh).
# Benchmarks only: no test uses them. Idempotent.
set -euo pipefail
need=()
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -q
  # Installing must not leave the packages' own services running on their default ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
