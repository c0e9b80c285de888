#!/usr/bin/env bash
# Installs what Touchpoint needs on a fresh Debian machine: the ClickHouse server, Java for
# Kafka, Chromium for browser tests, wrk for benchmarks, Go modules, npm packages and the
# GeoIP database (scripts/geoip.sh).
# Safe to repeat: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v clickhouse-server >/dev/null || need_apt+=(clickhouse-server clickhouse-client)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v curl >/dev/null || need_apt+=(curl)
command -v wrk >/dev/null || need_apt+=(wrk)
if [ "${TP_SKIP_BROWSER:-}" != 1 ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  # Fonts so dashboard screenshots show text.
  [ -d /usr/share/fonts/truetype/dejavu ] || need_apt+=(fonts-dejavu-core)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "deps: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

go mod download

for dir in tracker-js reports/dashboard; do
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" -o "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
    echo "deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
done

scripts/kafka.sh fetch
scripts/cluster.sh fetch # ZooKeeper, for the local ClickHouse cluster
scripts/geoip.sh fetch
