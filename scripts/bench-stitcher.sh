#!/usr/bin/env bash
# Stitcher figures: Kafka → ClickHouse events/s (a fresh consumer group drains a
# pre-loaded topic into a fresh database) and p99 event-to-queryable latency under a steady
# live load. Needs the stack (make up). Prints numbers; never fails on wall time.
# Extra arguments go to the benchmark, e.g. -events 1000000 -cpuprofile /tmp/stitcher.prof
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"
go build -o bin/ ./cmd/benchstitcher
echo "== stitcher ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
bin/benchstitcher -events "${TP_BENCH_STITCHER_EVENTS:-2000000}" \
  -clickhouse.pid "$(cat "$TP_RUN/clickhouse.pid" 2>/dev/null || echo 0)" -kafka.pid "$(cat "$TP_RUN/kafka.pid" 2>/dev/null || echo 0)" "$@" 2>&1 | { grep -v '^pre-loaded' || true; }
