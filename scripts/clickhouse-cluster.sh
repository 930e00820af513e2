#!/usr/bin/env bash
# A loopback ClickHouse cluster for tests, configured by deployments/clickhouse/render.py from the
# same templates as production: a ZooKeeper ensemble (3 nodes, or 1) and luminate_cluster
# (2 shards x 2 replicas, or one server). Every listener is on 127.0.0.1, on free non-default ports.
#
# Usage: scripts/clickhouse-cluster.sh COMMAND
#   up [--install]      render a fresh cluster under $CLUSTER_DIR, start it, wait until all answers
#                       (--install: as root, first install the Debian packages if any is missing)
#   down [--purge]      stop what this script started there (by PID); --purge also deletes the dir
#   status              each process, its PID and ports
#   start-node N        start clickhouse-N again (N is the ordinal: 0..3)
#   stop-node N         stop clickhouse-N (SIGTERM)
#   kill-node N         kill clickhouse-N (SIGKILL)
#   zk-stop [K]         stop every ZooKeeper node, or zookeeper-K
#   zk-start [K]        start them again and wait until they serve
#   check               exit 3, naming what is missing, unless everything needed is installed
#   install             (root) apt-get install clickhouse-server clickhouse-client zookeeper
#
# Environment (all optional):
#   CLUSTER_DIR   where configs, data, logs and PID files go  (default /tmp/luminate-clickhouse-cluster)
#   TOPOLOGY      2x2 | single                                 (default 2x2; read by `up`)
#   ZK_NODES      3 | 1                                        (default 3; read by `up`)
#   PORT_BASE     first port of a block of 100 to use          (default: a random free block, 20000-32000)
#   WAIT_SECONDS  how long to wait for a process to answer     (default 60)
#   STOP_SECONDS  how long a stopped process gets before SIGKILL (default 20)
#   CH_BIN, CH_CLIENT, ZK_JAR, PYTHON                          binaries (Debian's paths by default)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deployments/clickhouse
BASE=$(realpath -m "${CLUSTER_DIR:-/tmp/luminate-clickhouse-cluster}")
TOPOLOGY=${TOPOLOGY:-2x2}
ZK_NODES=${ZK_NODES:-3}
PORT_BASE=${PORT_BASE:-}
WAIT_SECONDS=${WAIT_SECONDS:-60}
STOP_SECONDS=${STOP_SECONDS:-20}
CH_BIN=${CH_BIN:-/usr/sbin/clickhouse-server}
CH_CLIENT=${CH_CLIENT:-/usr/bin/clickhouse-client}
ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
ZK_LOG_JAR=/usr/share/java/slf4j-simple.jar # ZooKeeper logs nothing without an slf4j binding
PYTHON=${PYTHON:-$(command -v python3 || echo "$ROOT/.venv/bin/python")}
PACKAGES=(clickhouse-server clickhouse-client zookeeper)

# Set from $CLUSTER_DIR/cluster.env (written by render.py) by load_cluster.
CLUSTER_NAME="" CH_NODES=0 CH_TCP_PORTS="" CH_HTTP_PORTS="" ZK_CLIENT_PORTS=""
CLICKHOUSE_REPLICAS_PER_SHARD="" CLICKHOUSE_LUMINATE_PASSWORD=""
CH_TCP=() CH_HTTP=() ZK_CLIENT=() ORDINALS=()

T0=$EPOCHREALTIME
CLEANUP_ON_FAILURE=""

elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
log() { printf '[clickhouse-cluster +%ss] %s\n' "$(elapsed)" "$*"; }

die() { # message [log files to show...]
	local message=$1 f
	shift
	echo "[clickhouse-cluster] ERROR: $message" >&2
	for f in "$@"; do
		if [ -s "$f" ]; then
			echo "---- last lines of $f" >&2
			tail -n 40 "$f" >&2
		fi
	done
	exit 1
}

on_exit() {
	local status=$?
	if [ "$status" -ne 0 ] && [ -n "$CLEANUP_ON_FAILURE" ]; then
		echo "[clickhouse-cluster] stopping what this run started" >&2
		STOP_SECONDS=5 stop_all KILL >&2 || true
	fi
}
trap on_exit EXIT

# ---------------------------------------------------------------- processes

pidfile() { echo "$BASE/pids/$1.pid"; }

# Print the PID of process $1 (clickhouse-N, zookeeper-K) if this script started it and it runs.
running_pid() {
	local f pid
	f=$(pidfile "$1")
	[ -f "$f" ] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	# A recycled PID belongs to another program: ours name their own config file under $BASE.
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$BASE/$1/" || return 1
	echo "$pid"
}

stop_processes() { # signal name... : signal each, wait for all, SIGKILL what is left
	local signal=$1 name pid deadline left
	shift
	local names=() pids=()
	for name in "$@"; do
		if pid=$(running_pid "$name"); then
			kill "-$signal" "$pid" 2>/dev/null || true
			names+=("$name")
			pids+=("$pid")
		fi
	done
	deadline=$((SECONDS + STOP_SECONDS))
	while :; do
		left=0
		for name in "${names[@]}"; do running_pid "$name" >/dev/null && left=1; done
		[ "$left" = 0 ] && break
		if [ "$SECONDS" -ge "$deadline" ]; then
			for name in "${names[@]}"; do
				if pid=$(running_pid "$name"); then
					log "$name (pid $pid) still running after ${STOP_SECONDS}s: SIGKILL"
					kill -KILL "$pid" 2>/dev/null || true
				fi
			done
			sleep 0.2
			break
		fi
		sleep 0.1
	done
	for name in "$@"; do rm -f "$(pidfile "$name")"; done
	local i
	for i in "${!names[@]}"; do log "stopped ${names[$i]} (pid ${pids[$i]}, SIG$signal)"; done
}

all_names() { # prefix : the names of that kind that have a directory under $BASE
	local d
	for d in "$BASE/$1"-[0-9]*; do
		[ -d "$d" ] && basename "$d"
	done
	return 0
}

stop_all() { # signal
	local ch zk
	mapfile -t ch < <(all_names clickhouse)
	mapfile -t zk < <(all_names zookeeper)
	# ClickHouse first, so that it does not spin on a vanished ZooKeeper while shutting down.
	stop_processes "$1" "${ch[@]}"
	stop_processes "$1" "${zk[@]}"
}

load_cluster() {
	[ -f "$BASE/cluster.env" ] || die "no cluster in $BASE (run '$0 up' first)"
	# shellcheck source=/dev/null
	. "$BASE/cluster.env"
	read -ra CH_TCP <<<"$CH_TCP_PORTS"
	read -ra CH_HTTP <<<"$CH_HTTP_PORTS"
	read -ra ZK_CLIENT <<<"$ZK_CLIENT_PORTS"
}

# ---------------------------------------------------------------- probes

# Send a four-letter word (or an HTTP request) to 127.0.0.1:$1 and print the answer.
ask() {
	# shellcheck disable=SC2016 # the inner shell expands them
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%b" "$2" >&3 && cat <&3' _ "$1" "$2" \
		2>/dev/null || true
}
zk_mode() { ask "$1" srvr | sed -n 's/^Mode: //p'; }
ch_ping() { ask "$1" 'GET /ping HTTP/1.0\r\n\r\n' | grep -qx 'Ok\.\r\?'; }

# ---------------------------------------------------------------- ZooKeeper

start_zookeeper() { # ordinal
	local k=$1 name=zookeeper-$1 d=$BASE/zookeeper-$1 pid classpath=$ZK_JAR
	[ -f "$d/zoo.cfg" ] || die "no $d/zoo.cfg (run '$0 up' first)"
	if pid=$(running_pid "$name"); then die "$name is already running (pid $pid)"; fi
	[ -f "$ZK_LOG_JAR" ] && classpath=$classpath:$ZK_LOG_JAR
	(
		exec nohup java -Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
			-Dzookeeper.admin.enableServer=false -cp "$classpath" \
			org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg"
	) >>"$d/zookeeper.log" 2>&1 </dev/null &
	echo $! >"$(pidfile "$name")"
	disown
}

wait_zookeeper() { # ordinal
	local k=$1 name=zookeeper-$1 port mode deadline=$((SECONDS + WAIT_SECONDS))
	port=${ZK_CLIENT[$k]}
	while :; do
		if [ "$(ask "$port" ruok)" = imok ]; then
			mode=$(zk_mode "$port")
			if [ -n "$mode" ]; then
				log "$name serves on 127.0.0.1:$port ($mode, pid $(running_pid "$name"))"
				return 0
			fi
		fi
		running_pid "$name" >/dev/null ||
			die "$name exited" "$BASE/$name/zookeeper.log"
		[ "$SECONDS" -lt "$deadline" ] ||
			die "$name did not serve on 127.0.0.1:$port within ${WAIT_SECONDS}s" "$BASE/$name/zookeeper.log"
		sleep 0.1
	done
}

zookeeper_ordinals() { # [K] : sets ORDINALS to K, or to every ZooKeeper node
	if [ -n "${1:-}" ]; then
		if ! { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -lt "$ZK_NODES" ]; }; then
			die "no zookeeper-$1 (ordinals 0..$((ZK_NODES - 1)))"
		fi
		ORDINALS=("$1")
	else
		mapfile -t ORDINALS < <(seq 0 $((ZK_NODES - 1)))
	fi
}

# ---------------------------------------------------------------- ClickHouse

start_clickhouse() { # ordinal
	local i=$1 name=clickhouse-$1 d=$BASE/clickhouse-$1 pid
	[ -f "$d/config.xml" ] || die "no $d/config.xml (run '$0 up' first)"
	if pid=$(running_pid "$name"); then die "$name is already running (pid $pid)"; fi
	# pod-env.sh derives SHARD_ID and REPLICA_ID from the name exactly as in production.
	(
		cd "$d"
		POD_NAME=$name CLICKHOUSE_REPLICAS_PER_SHARD=$CLICKHOUSE_REPLICAS_PER_SHARD \
			CLICKHOUSE_LUMINATE_PASSWORD=$CLICKHOUSE_LUMINATE_PASSWORD \
			exec nohup "$DEPLOY/pod-env.sh" clickhouse "$CH_BIN" --config-file="$d/config.xml"
	) >>"$d/log/stdout.log" 2>&1 </dev/null &
	echo $! >"$(pidfile "$name")"
	disown
}

wait_clickhouse() { # ordinal
	local i=$1 name=clickhouse-$1 port deadline=$((SECONDS + WAIT_SECONDS))
	local logs=("$BASE/$name/log/stdout.log" "$BASE/$name/log/clickhouse-server.err.log")
	port=${CH_HTTP[$i]}
	until ch_ping "$port"; do
		running_pid "$name" >/dev/null || die "$name exited" "${logs[@]}"
		[ "$SECONDS" -lt "$deadline" ] ||
			die "$name did not answer /ping on 127.0.0.1:$port within ${WAIT_SECONDS}s" "${logs[@]}"
		sleep 0.1
	done
	log "$name answers: native 127.0.0.1:${CH_TCP[$i]}, http 127.0.0.1:$port (pid $(running_pid "$name"))"
}

client() { # ordinal query
	"$CH_CLIENT" --host 127.0.0.1 --port "${CH_TCP[$1]}" --query "$2"
}

wait_clickhouse_sees_zookeeper() { # ordinal
	local i=$1 deadline=$((SECONDS + WAIT_SECONDS))
	until client "$i" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] ||
			die "clickhouse-$i cannot read ZooKeeper within ${WAIT_SECONDS}s" \
				"$BASE/clickhouse-$i/log/clickhouse-server.err.log"
		sleep 0.1
	done
}

node_ordinal() { # N : fails unless clickhouse-N exists
	if ! { [[ ${1:-} =~ ^[0-9]+$ ]] && [ "$1" -lt "$CH_NODES" ]; }; then
		die "no clickhouse-${1:-?} (ordinals 0..$((CH_NODES - 1)))"
	fi
}

# ---------------------------------------------------------------- packages

missing() { # print what is missing, one a line
	local b
	for b in "$CH_BIN" "$CH_CLIENT"; do [ -x "$b" ] || echo "$b"; done
	[ -f "$ZK_JAR" ] || echo "$ZK_JAR"
	for b in java sha256sum timeout realpath; do command -v "$b" >/dev/null || echo "$b"; done
	[ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null || echo "$PYTHON"
	return 0
}

install_packages() {
	[ "$(id -u)" = 0 ] || die "installing ${PACKAGES[*]} needs root"
	local policy=/usr/sbin/policy-rc.d created=""
	# The packages' init scripts would start a system-wide server on the default ports: forbid
	# service starts while installing (a policy file that is already there stays as it is).
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created=1
	fi
	local status=0
	{
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}" ||
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"; }
	} || status=$?
	[ -z "$created" ] || rm -f "$policy"
	[ "$status" = 0 ] || die "apt-get install ${PACKAGES[*]} failed"
}

# ---------------------------------------------------------------- commands

cmd_check() {
	local gaps
	gaps=$(missing)
	if [ -n "$gaps" ]; then
		echo "missing: $(echo "$gaps" | paste -sd' ' -)" >&2
		echo "install with: sudo $0 install   (apt-get install -y --no-install-recommends ${PACKAGES[*]})" >&2
		exit 3
	fi
	echo "everything needed is installed"
}

cmd_up() {
	local install="" k i name
	case "${1:-}" in
	--install) install=1 ;;
	"") ;;
	*) die "unknown option for up: $1" ;;
	esac
	if [ -n "$(missing)" ]; then
		[ -n "$install" ] || die "missing: $(missing | paste -sd' ' -); run '$0 up --install' as root (or '$0 install')"
		install_packages
		[ -z "$(missing)" ] || die "still missing after installing: $(missing | paste -sd' ' -)"
	fi
	mkdir -p "$BASE/pids"
	for f in "$BASE"/pids/*.pid; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .pid)
		if running_pid "$name" >/dev/null; then die "$name from an earlier run still runs; run '$0 down' first"; fi
	done
	rm -rf "$BASE"/clickhouse-[0-9]* "$BASE"/zookeeper-[0-9]* "$BASE"/pids "$BASE/cluster.json" "$BASE/cluster.env"
	"$PYTHON" "$DEPLOY/render.py" local --dir "$BASE" --topology "$TOPOLOGY" --zk-nodes "$ZK_NODES" \
		${PORT_BASE:+--port-base "$PORT_BASE"} >/dev/null
	load_cluster
	CLEANUP_ON_FAILURE=1

	for k in $(seq 0 $((ZK_NODES - 1))); do
		POD_NAME=zookeeper-$k "$DEPLOY/pod-env.sh" zookeeper | sed -n 's/^ZOO_MY_ID=//p' \
			>"$BASE/zookeeper-$k/data/myid"
		start_zookeeper "$k"
	done
	for k in $(seq 0 $((ZK_NODES - 1))); do wait_zookeeper "$k"; done
	for i in $(seq 0 $((CH_NODES - 1))); do start_clickhouse "$i"; done
	for i in $(seq 0 $((CH_NODES - 1))); do wait_clickhouse "$i"; done
	for i in $(seq 0 $((CH_NODES - 1))); do wait_clickhouse_sees_zookeeper "$i"; done
	CLEANUP_ON_FAILURE=""

	log "every server sees ZooKeeper; cluster $CLUSTER_NAME:"
	client 0 "SELECT cluster, shard_num, replica_num, host_address, port, is_local
	          FROM system.clusters WHERE cluster = '$CLUSTER_NAME' FORMAT PrettyCompactNoEscapes"
	log "ready in $(elapsed)s ($BASE/cluster.json describes it; stop with: $0 down)"
}

cmd_status() {
	local name pid
	load_cluster
	for name in $(all_names zookeeper) $(all_names clickhouse); do
		if pid=$(running_pid "$name"); then echo "$name running (pid $pid)"; else echo "$name stopped"; fi
	done
	echo "native ports: $CH_TCP_PORTS; http ports: $CH_HTTP_PORTS; zookeeper ports: $ZK_CLIENT_PORTS"
}

cmd_down() {
	if [ ! -d "$BASE/pids" ]; then
		log "nothing runs from $BASE"
	else
		stop_all TERM
	fi
	if [ "${1:-}" = --purge ]; then
		# Only ever delete a directory this script created.
		if [ -f "$BASE/cluster.json" ] || [ ! -e "$BASE" ]; then
			rm -rf "$BASE"
			log "removed $BASE"
		else
			die "$BASE holds no cluster.json; not deleting it"
		fi
	fi
}

main() {
	local command=${1:-}
	[ $# -eq 0 ] || shift
	case "$command" in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	status) cmd_status ;;
	check) cmd_check ;;
	install) install_packages ;;
	start-node)
		load_cluster
		node_ordinal "${1:-}"
		start_clickhouse "$1"
		wait_clickhouse "$1"
		;;
	stop-node)
		load_cluster
		node_ordinal "${1:-}"
		stop_processes TERM "clickhouse-$1"
		;;
	kill-node)
		load_cluster
		node_ordinal "${1:-}"
		stop_processes KILL "clickhouse-$1"
		;;
	zk-stop)
		load_cluster
		zookeeper_ordinals "${1:-}"
		stop_processes TERM "${ORDINALS[@]/#/zookeeper-}"
		;;
	zk-start)
		load_cluster
		zookeeper_ordinals "${1:-}"
		for k in "${ORDINALS[@]}"; do start_zookeeper "$k"; done
		for k in "${ORDINALS[@]}"; do wait_zookeeper "$k"; done
		;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
