#!/usr/bin/env bash
# Performance figures of SPEC §11. Prints numbers; never fails on wall time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

echo "== collector (SPEC §11: at least half an empty fasthttp handler's request rate)"
scripts/bench-collector.sh || echo "bench: collector benchmark failed"
