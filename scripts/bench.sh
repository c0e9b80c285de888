#!/usr/bin/env bash
# Performance figures of SPEC §11. Prints numbers; never fails on wall time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

echo "== collector (SPEC §11: at least half an empty fasthttp handler's request rate)"
scripts/bench-collector.sh || echo "bench: collector benchmark failed"

echo "== geo step (target: <= 1 µs per event once its place is cached, no allocation)"
go test -run '^$' -bench '^BenchmarkGeo$' -benchtime 2000000x ./collector/enrich/ | grep '^BenchmarkGeo' \
  || echo "bench: geo benchmark failed"

echo "== stitcher (SPEC §11: Kafka -> ClickHouse >= 100k events/s, p99 event-to-queryable <= 5 s)"
if [ -x scripts/bench-stitcher.sh ]; then scripts/bench-stitcher.sh || echo "bench: stitcher benchmark failed"; fi

echo "== attribution (SPEC §11: 1M conversions x ~5 touches, all models, <= 60 s; source report over 10M sessions <= 1 s; erasure of a person <= 60 s)"
bin/benchattribution -conversions "${TP_BENCH_CONVERSIONS:-1000000}" -extra-sessions "${TP_BENCH_EXTRA_SESSIONS:-5000000}" \
  || echo "bench: attribution benchmark failed"

echo "== call tracking (targets: GET /v1/number p99 <= 5 ms at 2,000 requests/s; a call credited <= 5 s after its webhook)"
scripts/bench-calls.sh || echo "bench: call tracking benchmark failed"

echo "== tracker (SPEC §11: <= 3,072 bytes gzipped)"
(cd tracker-js && node build.mjs 2>&1 | tail -n 2)
