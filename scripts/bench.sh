#!/usr/bin/env bash
# Performance figures of SPEC §11. Prints numbers; never fails on wall time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"
echo "bench: nothing yet"
