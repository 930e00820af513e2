#!/bin/sh
# Derive the per-pod environment that luminate_cluster's configuration reads, then exec the server.
#
#   pod-env.sh clickhouse [command args...]   sets SHARD_ID, REPLICA_ID, CLICKHOUSE_LUMINATE_PASSWORD_SHA256
#   pod-env.sh zookeeper  [command args...]   sets ZOO_MY_ID
#
# Without a command it prints the derived ids (NAME=value, one a line) instead.
#
# The pod name (POD_NAME, else the hostname, which for a StatefulSet pod is its name) ends in the
# ordinal N. ClickHouse pods are laid out shard by shard, CLICKHOUSE_REPLICAS_PER_SHARD (default 2)
# consecutive ordinals per shard:
#   SHARD_ID   = N / CLICKHOUSE_REPLICAS_PER_SHARD + 1          clickhouse-0,1 -> 1; clickhouse-2,3 -> 2
#   REPLICA_ID = the pod name                                   unique within the shard, stable across restarts
# and the password hash of the `luminate` user is computed from CLICKHOUSE_LUMINATE_PASSWORD, which
# must be set (it comes from the clickhouse-credentials secret).
# ZooKeeper pods get ZOO_MY_ID = N + 1 (ZooKeeper server ids are integers 1..255).
# Anything missing or malformed stops the pod here rather than starting a server with empty macros.
set -eu

fail() {
	echo "pod-env.sh: $*" >&2
	exit 64
}

[ $# -ge 1 ] || fail "usage: pod-env.sh clickhouse|zookeeper [command args...]"
role=$1
shift

name=${POD_NAME:-$(uname -n)}
ordinal=${name##*-}
case $ordinal in
'' | *[!0-9]* | 0?*) fail "cannot read an ordinal from pod name '$name' (expected <name>-<N>)" ;;
esac

case $role in
clickhouse)
	per_shard=${CLICKHOUSE_REPLICAS_PER_SHARD:-2}
	case $per_shard in
	'' | *[!0-9]* | 0) fail "CLICKHOUSE_REPLICAS_PER_SHARD must be a positive integer, not '$per_shard'" ;;
	esac
	SHARD_ID=$((ordinal / per_shard + 1))
	REPLICA_ID=$name
	if [ $# -eq 0 ]; then
		printf 'SHARD_ID=%s\nREPLICA_ID=%s\n' "$SHARD_ID" "$REPLICA_ID"
		exit 0
	fi
	[ -n "${CLICKHOUSE_LUMINATE_PASSWORD:-}" ] || fail "CLICKHOUSE_LUMINATE_PASSWORD is not set"
	CLICKHOUSE_LUMINATE_PASSWORD_SHA256=$(printf '%s' "$CLICKHOUSE_LUMINATE_PASSWORD" | sha256sum | cut -d' ' -f1)
	export SHARD_ID REPLICA_ID CLICKHOUSE_LUMINATE_PASSWORD_SHA256
	;;
zookeeper)
	ZOO_MY_ID=$((ordinal + 1))
	[ "$ZOO_MY_ID" -le 255 ] || fail "ZooKeeper ids stop at 255; ordinal $ordinal is too large"
	if [ $# -eq 0 ]; then
		printf 'ZOO_MY_ID=%s\n' "$ZOO_MY_ID"
		exit 0
	fi
	export ZOO_MY_ID
	;;
*) fail "unknown role '$role' (clickhouse or zookeeper)" ;;
esac
exec "$@"
