#!/usr/bin/env bash
# Performance figures, each beside its target (README, Performance). Prints numbers; never fails on wall time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

echo "== collector (target: >= 0.70 x an empty fasthttp handler's request rate)"
scripts/bench-collector.sh || echo "bench: collector benchmark failed"

echo "== geo step (target: <= 1 µs per event once its place is cached, no allocation)"
go test -run '^$' -bench '^BenchmarkGeo$' -benchtime 2000000x ./collector/enrich/ | grep '^BenchmarkGeo' \
  || echo "bench: geo benchmark failed"

echo "== stitcher (target: Kafka -> ClickHouse >= 200k events/s with Go heap <= 1 GiB, p99 event-to-queryable <= 5 s)"
if [ -x scripts/bench-stitcher.sh ]; then scripts/bench-stitcher.sh || echo "bench: stitcher benchmark failed"; fi

echo "== attribution (target: 1M conversions x ~5 touches, all models, <= 30 s with Go heap <= 1 GiB; report views over 10M sessions p95 <= 150 ms; erasure of a person <= 60 s)"
bin/benchattribution -conversions "${TP_BENCH_CONVERSIONS:-1000000}" -extra-sessions "${TP_BENCH_EXTRA_SESSIONS:-5000000}" \
  -clickhouse.pid "$(cat "$TP_RUN/clickhouse.pid" 2>/dev/null || echo 0)" || echo "bench: attribution benchmark failed"

echo "== a new sale credited (target: p99 <= 3 s from its HTTP 2xx to its rows under every model, on the live stack)"
bin/benchcredit -conversions "${TP_BENCH_CREDITS:-40}" || echo "bench: credit benchmark failed"

echo "== call tracking (targets: GET /v1/number p99 <= 5 ms at 2,000 requests/s; a call credited <= 5 s after its webhook)"
scripts/bench-calls.sh || echo "bench: call tracking benchmark failed"

echo "== tracker (targets: t.js <= 2,048 bytes gzipped; l.js, loaded only with data-domains, <= 1,024; c.js, loaded only with number pools, <= 2,048)"
(cd tracker-js && node build.mjs 2>&1 | tail -n 3)  # the brotli figure is what browsers that accept it download
