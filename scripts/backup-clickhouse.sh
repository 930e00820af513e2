#!/usr/bin/env bash
# Take a backup of Luminate's ClickHouse data to S3, verify it, and prune backups past the
# retention: a thin wrapper around `luminate backup create --prune` (docs/backups.md).
#
# Environment (the production plan's names; every LUMINATE_BACKUP_* setting works as well):
#   CLICKHOUSE_HOST         a server of the cluster        (default clickhouse-0.clickhouse-headless)
#   CLICKHOUSE_PORT         its native port                (default 9000)
#   BACKUP_BUCKET           s3://bucket[/prefix]           (default s3://luminate-backups)
#   BACKUP_RETENTION_DAYS   days a backup is kept          (default 30)
#   LUMINATE                the luminate command           (default: luminate on PATH)
# Extra arguments go to `luminate backup create` (e.g. --json). Exit status: luminate's own
# (0 done, 1 failed, 2 configuration error).
set -euo pipefail

CLICKHOUSE_HOST="${CLICKHOUSE_HOST:-clickhouse-0.clickhouse-headless}"
CLICKHOUSE_PORT="${CLICKHOUSE_PORT:-9000}"
BACKUP_BUCKET="${BACKUP_BUCKET:-s3://luminate-backups}"
BACKUP_RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-30}"
LUMINATE="${LUMINATE:-luminate}"

export LUMINATE_STORAGE_BACKEND="${LUMINATE_STORAGE_BACKEND:-clickhouse}"
export LUMINATE_CLICKHOUSE_HOSTS="${LUMINATE_CLICKHOUSE_HOSTS:-${CLICKHOUSE_HOST}:${CLICKHOUSE_PORT}}"
export LUMINATE_BACKUP_BUCKET="${BACKUP_BUCKET}"
export LUMINATE_BACKUP_RETENTION_DAYS="${BACKUP_RETENTION_DAYS}"

echo "[$(date -u +%FT%TZ)] backup of ${LUMINATE_CLICKHOUSE_HOSTS} to ${BACKUP_BUCKET} (keep ${BACKUP_RETENTION_DAYS} days)" >&2
# Under `set -e` a failing command ends the script before any `$?` check; take the status here.
status=0
"${LUMINATE}" backup create --prune "$@" || status=$?
if [ "${status}" -ne 0 ]; then
  echo "[$(date -u +%FT%TZ)] backup FAILED (exit ${status}); see docs/runbooks/backup-failed.md" >&2
  exit "${status}"
fi
echo "[$(date -u +%FT%TZ)] backup completed and verified" >&2
