#!/usr/bin/env bash
# Our own Redis server (Debian's redis-server), the lease store of call tracking, with a
# project-owned data folder on loopback :6379; the system service is not used. It keeps an
# append-only file, so leases and call records survive its restart.
# Usage: redis.sh start|stop|status|reset (reset drops every lease and call record)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RDIR=$TP_STACK_DIR/redis
PORT=${TP_REDIS_PORT:-6379}

ready() { [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; }

start() {
  if pid_alive redis; then log "redis already running"; return 0; fi
  if ready; then
    log "a Redis server not started by us answers on :$PORT; stop it first"; return 1
  fi
  mkdir -p "$RDIR"
  log "starting redis on 127.0.0.1:$PORT"
  start_bg redis redis-server --bind 127.0.0.1 --port "$PORT" --dir "$RDIR" --appendonly yes \
    --appendfsync everysec --save '' --daemonize no --protected-mode yes --logfile ''
  wait_for redis 30 ready || { tail -n 30 "$TP_LOG/redis.log" >&2 || true; return 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid redis ;;
  status) pid_alive redis && echo "redis running" || { echo "redis stopped"; exit 1; } ;;
  reset) redis-cli -p "$PORT" flushdb >/dev/null ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
