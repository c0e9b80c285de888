#!/usr/bin/env bash
# Collector throughput (SPEC §11): wrk posts realistic 3-event batches over loopback to a
# collector producing to the real Kafka (acks=all), then the same load hits an empty
# fasthttp handler on the same machine. Prints requests/s, events/s, p50/p99 latency and
# the ratio collector/empty (target >= 0.5). Never fails on the figures.
# Settings: TP_BENCH_DURATION (default 10s), TP_BENCH_CONNECTIONS (64), TP_BENCH_THREADS (1),
# TP_BENCH_COLLECTOR_FLAGS (extra collector flags, e.g. "-kafka.compression none").
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

DURATION=${TP_BENCH_DURATION:-10s}
CONNS=${TP_BENCH_CONNECTIONS:-64}
THREADS=${TP_BENCH_THREADS:-1}
EVENTS_PER_REQUEST=3
LUA=$TP_ROOT/scripts/bench/collector.lua
COLLECTOR_ADDR=127.0.0.1:18080
EMPTY_ADDR=127.0.0.1:18089

command -v wrk >/dev/null || { log "wrk missing: run scripts/deps.sh"; exit 1; }
go build -o bin/ ./cmd/collector ./cmd/emptyhttp
scripts/kafka.sh start

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# run_wrk NAME URL: warms up, then measures; leaves wrk's report in $TP_LOG/bench-NAME.txt.
run_wrk() {
  wrk -t"$THREADS" -c"$CONNS" -d2s -s "$LUA" "$2" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$LUA" "$2" >"$TP_LOG/bench-$1.txt"
}

# figure FILE FIELD: requests/s, p50 or p99 from a wrk report.
figure() {
  case $2 in
    rps) awk '/^Requests\/sec/ {print $2}' "$1" ;;
    p50) awk '$1 == "50%" {print $2}' "$1" ;;
    p99) awk '$1 == "99%" {print $2}' "$1" ;;
    errors) awk '/Non-2xx/ {n=$NF} /Socket errors/ {s=$0} END {print (n ? n : 0) (s ? " (" s ")" : "")}' "$1" ;;
  esac
}

spool=$TP_STACK_DIR/spool/bench
rm -rf "$spool"
bin/collector -http.listen "$COLLECTOR_ADDR" -sites config/dev.json \
  -kafka.topic tp.bench.events -kafka.dlq tp.bench.events.dlq -kafka.create-topics \
  -spool.dir "$spool" -ratelimit.ip 0 -ratelimit.site 0 ${TP_BENCH_COLLECTOR_FLAGS:-} >>"$TP_LOG/bench-collector.log" 2>&1 &
PIDS+=($!)
wait_for collector 60 curl -sf "http://$COLLECTOR_ADDR/readyz"
run_wrk collector "http://$COLLECTOR_ADDR/e"
spooled=$(curl -s "http://$COLLECTOR_ADDR/metrics" | awk '/^tp_collector_spooled_messages_total/ {print $2}')

bin/emptyhttp -http.listen "$EMPTY_ADDR" >>"$TP_LOG/bench-empty.log" 2>&1 &
PIDS+=($!)
wait_for emptyhttp 10 curl -s -o /dev/null "http://$EMPTY_ADDR/"
run_wrk empty "http://$EMPTY_ADDR/e"

c=$TP_LOG/bench-collector.txt e=$TP_LOG/bench-empty.txt
crps=$(figure "$c" rps) erps=$(figure "$e" rps)
printf 'collector: %s req/s, %.0f events/s, p50 %s, p99 %s, non-2xx %s, spooled %s (wrk -t%s -c%s -d%s, Kafka acks=all)\n' \
  "$crps" "$(awk -v r="$crps" -v n="$EVENTS_PER_REQUEST" 'BEGIN {print r * n}')" "$(figure "$c" p50)" "$(figure "$c" p99)" "$(figure "$c" errors)" "${spooled:-0}" "$THREADS" "$CONNS" "$DURATION"
printf 'empty fasthttp handler: %s req/s, p50 %s, p99 %s\n' "$erps" "$(figure "$e" p50)" "$(figure "$e" p99)"
printf 'ratio collector/empty: %.2f (target >= 0.50)\n' "$(awk -v c="$crps" -v e="$erps" 'BEGIN {print c / e}')"
