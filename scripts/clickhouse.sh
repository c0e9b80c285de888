#!/usr/bin/env bash
# Our own ClickHouse server process (Debian's clickhouse-server) with a project-owned config
# and data folder on loopback (:9000 native, :8123 HTTP); the system service is not used.
# Usage: clickhouse.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CDIR=$TP_STACK_DIR/clickhouse

ready() { curl -sf 'http://127.0.0.1:8123/?query=SELECT%201' | grep -q 1; }

start() {
  if pid_alive clickhouse; then log "clickhouse already running"; return 0; fi
  if ready; then
    log "a ClickHouse server not started by us answers on :8123; stop it first"; return 1
  fi
  mkdir -p "$CDIR/log" "$CDIR/tmp" "$CDIR/user_files" "$CDIR/format_schemas"
  cp "$TP_ROOT/deploy/clickhouse/config.xml" "$TP_ROOT/deploy/clickhouse/users.xml" "$CDIR/"
  log "starting clickhouse on 127.0.0.1:9000 / :8123"
  # Relative paths in config.xml resolve against the working directory.
  (cd "$CDIR" && start_bg clickhouse clickhouse-server --config-file="$CDIR/config.xml")
  wait_for clickhouse 60 ready || { tail -n 30 "$TP_LOG/clickhouse.log" "$CDIR/log/clickhouse-server.err.log" >&2 || true; return 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid clickhouse ;;
  status) pid_alive clickhouse && echo "clickhouse running" || { echo "clickhouse stopped"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
