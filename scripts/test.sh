#!/usr/bin/env bash
# Every test: lint, Go unit and integration tests against the real stack, the snippet's
# unit and browser tests, and the schema check on a current ClickHouse engine.
# Starts the stack when it is not running and stops it afterwards in that case.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"
start=$SECONDS

started=0
if ! scripts/stack.sh status >/dev/null 2>&1; then
  started=1
  trap 'scripts/stack.sh down' EXIT
fi
scripts/stack.sh up
# The tests lease the demo site's tracking numbers, and so does `make demo`, for 30 minutes:
# a run soon after another would find every number held. They start from an empty store.
scripts/redis.sh reset

echo "== lint"
make --no-print-directory lint

echo "== go test"
tests_from=$(date -u +%s)
go test -count=1 -timeout 15m ./...

echo "== tracker-js"
(cd tracker-js && npm test && npm run --silent test:browser)

echo "== dashboard"
(cd reports/dashboard && npm test && npm run --silent test:browser)
scripts/dashboard-live-test.sh

echo "== schema, and the queries the Go tests made, on a current ClickHouse engine"
scripts/chdb.sh scripts/check_schema.py schemas/testdata/views.sql docs/sql.md docs/tables.md docs/identity.md docs/scoring.md
scripts/chdb.sh scripts/check_queries.py "$tests_from"

# The cluster run (scripts/cluster.sh test, about 4 minutes) under CI, or when asked for.
if [ "${CI:-}" = true ] || [ "${TP_CLUSTER_TEST:-}" = 1 ]; then
  echo "== cluster: two ClickHouse shards of two replicas, three Kafka brokers, two of each service"
  if [ $started = 1 ]; then scripts/stack.sh down; fi # the machine's cores for the cluster
  scripts/cluster.sh test
fi

echo "== all tests passed in $((SECONDS - start))s"
