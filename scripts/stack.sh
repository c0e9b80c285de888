#!/usr/bin/env bash
# The whole local stack: Kafka, ClickHouse, Redis (call tracking's leases), migrations and Touchpoint's services, as
# background processes on loopback. Usage: stack.sh up|down|status
# `up` returns once everything answers; both commands are idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

# Our services: name, health URL. Binaries are in bin/ (make build). The collector, the
# stitcher and the attribution service read the same site file: config/dev.json unless
# TP_SITES names another.
SERVICES=(
  "stitcher http://127.0.0.1:8082/healthz"
  "attribution http://127.0.0.1:8081/healthz"
  "collector http://127.0.0.1:8080/healthz"
)

up() {
  scripts/kafka.sh start
  scripts/clickhouse.sh start
  scripts/redis.sh start
  # A service running other code than its binary now holds (rebuilt since it started)
  # stops before the migrations: its old code must not write into a newer schema (it
  # would build rollups in an older format). It starts again below.
  local entry name url
  for entry in "${SERVICES[@]}"; do
    read -r name url <<<"$entry"
    if pid_alive "$name" && ! cmp -s "bin/$name" "/proc/$(cat "$TP_RUN/$name.pid")/exe"; then
      log "restarting $name: bin/$name changed"
      stop_pid "$name"
    fi
  done
  bin/migrate >>"$TP_LOG/migrate.log" 2>&1 || { tail -n 20 "$TP_LOG/migrate.log" >&2; return 1; }
  # The collector locates visitors with DB-IP Lite unless TP_GEOIP names other databases
  # (a MaxMind GeoLite2 file, say) or is set empty.
  if [ -z "${TP_GEOIP+set}" ]; then
    scripts/geoip.sh fetch
    TP_GEOIP=$(scripts/geoip.sh files)
    export TP_GEOIP
  fi
  for entry in "${SERVICES[@]}"; do
    read -r name url <<<"$entry"
    if pid_alive "$name"; then continue; fi
    log "starting $name"
    start_bg "$name" "bin/$name"
  done
  for entry in "${SERVICES[@]}"; do
    read -r name url <<<"$entry"
    wait_for "$name" 30 curl -sf "$url" || { tail -n 20 "$TP_LOG/$name.log" >&2; return 1; }
  done
  log "up: collector http://127.0.0.1:8080, dashboard http://127.0.0.1:8081/#token=demo-admin, ClickHouse http://127.0.0.1:8123, Kafka 127.0.0.1:9092, Redis 127.0.0.1:6379"
}

down() {
  local i entry name
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    read -r name _ <<<"${SERVICES[$i]}"
    stop_pid "$name"
  done
  scripts/redis.sh stop
  scripts/clickhouse.sh stop
  scripts/kafka.sh stop
}

# status prints each process: running (and, for ours, what /readyz says it waits for),
# stopped, or died — its pid file is there but the process is gone, which `down` never
# leaves behind — with the end of its log. It fails unless everything runs.
status() {
  local entry name url rc=0 waiting
  for entry in "${SERVICES[@]}" "kafka -" "clickhouse -" "redis -"; do
    read -r name url <<<"$entry"
    if pid_alive "$name"; then
      waiting=""
      if [ "$url" != - ]; then
        # {"ready":false,"waiting_for":[{"dependency":"kafka","since":"…",…}]} → "kafka since …"
        waiting=$(curl -s -m 2 "${url%/healthz}/readyz" | grep -o '"dependency":"[^"]*","since":"[^"]*"' |
          sed -E 's/"dependency":"([^"]*)","since":"([^"]*)"/\1 since \2/' | paste -sd ',' - | sed 's/,/, /g') || true
      fi
      echo "$name running (pid $(cat "$TP_RUN/$name.pid"))${waiting:+, waiting for $waiting}"
    elif [ -f "$TP_RUN/$name.pid" ]; then
      echo "$name DIED (pid $(cat "$TP_RUN/$name.pid") is gone); the end of $TP_LOG/$name.log:"
      tail -n 5 "$TP_LOG/$name.log" 2>/dev/null | sed 's/^/    /'
      rc=1
    else
      echo "$name stopped"
      rc=1
    fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
