#!/usr/bin/env bash
# Load test of the staging deployment: a write test, a query test, then a regression check that
# fails (exit 1) when write p95 or the error ratio breach their thresholds.
#
# Uses `luminate loadtest` (pip install 'luminate[loadtest]'); LOAD_TOOL=k6 runs
# test/load/write_load.js and query_load.js with k6 instead. Tokens: TOKEN (read and write
# scopes), or, for luminate loadtest only, signed per tenant from JWT_SECRET / JWT_SECRET_FILE.
#
# Settings (environment):
#   STAGING_URL          base URL (default https://luminate-staging.example.com)
#   DURATION, VUS        length and virtual users of the write test (10m, 200); the query test
#                        uses VUS/2
#   REGRESSION_DURATION  length of the regression check (5m)
#   WRITE_P95            write p95 threshold (100ms); ERRORS, the error ratio threshold (1%)
#   MIN_POINTS_PER_S     the regression check's floor on write throughput (100000, the production
#                        plan's target; luminate loadtest only)
#   WARMUP               warm-up excluded from the figures (30s; luminate loadtest only)
#   BATCH_SIZE, WORKERS  points per write (500), generator processes (2)
#   OUT_DIR              JSON summaries and PNG charts (load-test-results)
set -euo pipefail

STAGING_URL="${STAGING_URL:-https://luminate-staging.example.com}"
DURATION="${DURATION:-10m}"
VUS="${VUS:-200}"
REGRESSION_DURATION="${REGRESSION_DURATION:-5m}"
WRITE_P95="${WRITE_P95:-100ms}"
ERRORS="${ERRORS:-1%}"
MIN_POINTS_PER_S="${MIN_POINTS_PER_S:-100000}"
WARMUP="${WARMUP:-30s}"
BATCH_SIZE="${BATCH_SIZE:-500}"
WORKERS="${WORKERS:-2}"
OUT_DIR="${OUT_DIR:-load-test-results}"
LOAD_TOOL="${LOAD_TOOL:-luminate}"
LUMINATE="${LUMINATE:-luminate}"
TOKEN="${TOKEN:-}"

LOAD_DIR="$(cd "$(dirname "$0")/../test/load" && pwd)"
QUERY_VUS=$((VUS / 2))
[ "$QUERY_VUS" -ge 1 ] || QUERY_VUS=1
mkdir -p "$OUT_DIR"

echo "Running load test against ${STAGING_URL}"
echo "Duration: ${DURATION}, VUs: ${VUS}, tool: ${LOAD_TOOL}"

# luminate loadtest NAME [options...]: one run, its summary and chart under OUT_DIR.
luminate_run() {
  local name="$1"
  shift
  local auth=()
  [ -z "$TOKEN" ] || auth=(--token "$TOKEN")
  "$LUMINATE" loadtest --url "$STAGING_URL" ${auth[@]+"${auth[@]}"} \
    --warmup "$WARMUP" --batch-size "$BATCH_SIZE" --workers "$WORKERS" \
    --summary "$OUT_DIR/$name.json" --chart "$OUT_DIR/$name.png" "$@"
}

# k6_run SCRIPT VUS DURATION P95_MS: one k6 run (k6 exits 99 when a threshold fails).
k6_run() {
  if [ -z "$TOKEN" ]; then
    echo "ERROR: LOAD_TOOL=k6 needs TOKEN (read and write scopes)" >&2
    return 2
  fi
  k6 run --env BASE_URL="$STAGING_URL" --env TOKEN="$TOKEN" --env BATCH_SIZE="$BATCH_SIZE" \
    --env P95_MS="$4" --vus "$2" --duration "$3" \
    --summary-export "$OUT_DIR/$(basename "$1" .js).json" "$1"
}

# k6 takes milliseconds; "100ms" -> 100, "0.5s" -> 500.
to_ms() {
  case "$1" in
    *ms) echo "${1%ms}" ;;
    *s) awk -v s="${1%s}" 'BEGIN { print s * 1000 }' ;;
    *) echo "$1" ;;
  esac
}

echo "=== Write Load Test ==="
if [ "$LOAD_TOOL" = k6 ]; then
  k6_run "$LOAD_DIR/write_load.js" "$VUS" "$DURATION" 1000000
else
  luminate_run write --write-vus "$VUS" --duration "$DURATION"
fi

echo "=== Query Load Test ==="
if [ "$LOAD_TOOL" = k6 ]; then
  k6_run "$LOAD_DIR/query_load.js" "$QUERY_VUS" "$DURATION" 1000000
else
  luminate_run query --query-vus "$QUERY_VUS" --duration "$DURATION"
fi

echo "=== Checking for performance regressions ==="
# The check's own exit status decides (a `$?` test after a command under `set -e` never runs).
if [ "$LOAD_TOOL" = k6 ]; then
  if ! k6_run "$LOAD_DIR/write_load.js" "$VUS" "$REGRESSION_DURATION" "$(to_ms "$WRITE_P95")"; then
    echo "ERROR: Performance regression detected!" >&2
    exit 1
  fi
elif ! luminate_run regression --write-vus "$VUS" --duration "$REGRESSION_DURATION" \
  --threshold "write.p95<${WRITE_P95}" --threshold "errors<${ERRORS}" \
  --threshold "write.pps>=${MIN_POINTS_PER_S}"; then
  echo "ERROR: Performance regression detected!" >&2
  exit 1
fi

echo "Load test completed successfully"
