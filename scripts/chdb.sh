#!/usr/bin/env bash
# Runs a Python script with chdb (an embedded current ClickHouse engine) from a project venv.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
VENV=$TP_STACK_DIR/venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import chdb' 2>/dev/null; then
  log "installing chdb into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'chdb==4.4.0'
fi
exec "$VENV/bin/python" "$@"
