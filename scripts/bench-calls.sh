#!/usr/bin/env bash
# Call tracking on the running stack: GET /v1/number latency at a fixed rate (target: p99
# <= 5 ms at 2,000 requests/s) and the time from a call's Twilio webhook to its attribution
# (target: <= 5 s). A collector of its own (loopback :18080, rate limits off) serves a copy
# of the site file whose demo site has one pool of 1,000 numbers, so the demo's own pool is
# not touched; it produces to the stack's events topic and shares its lease store, so the
# stack's stitcher and attribution service credit the calls. Prints figures, never fails on
# them. Settings: TP_BENCH_NUMBER_RATE (2000), TP_BENCH_NUMBER_DURATION (10s).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

ADDR=127.0.0.1:18080
sites=$TP_STACK_DIR/bench-calls-sites.json
python3 - "$sites" <<'PY'
import json, sys
c = json.load(open("config/dev.json"))
for s in c["sites"]:
    if s["id"] == "demo":
        s["call_tracking"]["pools"] = [{"id": "bench", "numbers": ["+44113496%04d" % i for i in range(1000)],
                                        "default": "+44 113 496 9999", "hold_minutes": 5}]
json.dump(c, open(sys.argv[1], "w"))
PY
go build -o bin/ ./cmd/collector ./cmd/benchcalls
bin/collector -http.listen "$ADDR" -metrics.listen "" -sites "$sites" -spool.dir "$TP_STACK_DIR/spool/bench-calls" \
  -ratelimit.ip 0 -ratelimit.site 0 >>"$TP_LOG/bench-calls-collector.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
wait_for "bench collector" 60 curl -sf "http://$ADDR/readyz"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (shared: other work runs beside the benchmark)"
bin/benchcalls -collector "http://$ADDR" -rate "${TP_BENCH_NUMBER_RATE:-2000}" -duration "${TP_BENCH_NUMBER_DURATION:-10s}"
