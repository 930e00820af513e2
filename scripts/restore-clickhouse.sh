#!/usr/bin/env bash
# Restore a backup into Luminate's ClickHouse tables: a thin wrapper around
# `luminate backup restore` (docs/runbooks/restore-after-data-loss.md). The restore is checked
# against the backup's manifest (rows and checksums per partition) before it reports success.
#
# Usage: scripts/restore-clickhouse.sh <backup_id | latest> [--force] [--json]
#   --force replaces the contents of tables that are not empty (otherwise they are refused).
# Environment: CLICKHOUSE_HOST, CLICKHOUSE_PORT, BACKUP_BUCKET, LUMINATE as in
# scripts/backup-clickhouse.sh. `luminate backup list` shows the backup ids.
set -euo pipefail

BACKUP_TIMESTAMP="${1:?Usage: $0 <backup_id | latest> [--force] [--json]}"
shift
CLICKHOUSE_HOST="${CLICKHOUSE_HOST:-clickhouse-0.clickhouse-headless}"
CLICKHOUSE_PORT="${CLICKHOUSE_PORT:-9000}"
BACKUP_BUCKET="${BACKUP_BUCKET:-s3://luminate-backups}"
LUMINATE="${LUMINATE:-luminate}"

export LUMINATE_STORAGE_BACKEND="${LUMINATE_STORAGE_BACKEND:-clickhouse}"
export LUMINATE_CLICKHOUSE_HOSTS="${LUMINATE_CLICKHOUSE_HOSTS:-${CLICKHOUSE_HOST}:${CLICKHOUSE_PORT}}"
export LUMINATE_BACKUP_BUCKET="${BACKUP_BUCKET}"

echo "[$(date -u +%FT%TZ)] restoring ${BACKUP_TIMESTAMP} from ${BACKUP_BUCKET} into ${LUMINATE_CLICKHOUSE_HOSTS}" >&2
status=0
"${LUMINATE}" backup restore "${BACKUP_TIMESTAMP}" "$@" || status=$?
if [ "${status}" -ne 0 ]; then
  echo "[$(date -u +%FT%TZ)] restore FAILED (exit ${status})" >&2
  exit "${status}"
fi
echo "[$(date -u +%FT%TZ)] restore completed; counts and checksums match the manifest" >&2
