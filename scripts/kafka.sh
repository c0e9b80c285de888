#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft) run from its Maven Central jars with the
# machine's Java 17.  Usage: kafka.sh fetch|start|stop|status
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=$TP_STACK_DIR/kafka
LIB=$KDIR/lib
POM=$TP_ROOT/deploy/kafka/pom.xml

fetch() {
  # The jar list is cached with the pom's checksum: a second start downloads nothing.
  local sum; sum=$(sha256sum "$POM" | cut -c1-16)
  [ -f "$LIB/.pom-$sum" ] && return 0
  log "fetching Kafka jars from Maven Central"
  rm -rf "$LIB"; mkdir -p "$LIB"
  mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB"
  touch "$LIB/.pom-$sum"
}

JAVA=(java -Xms256m "-Xmx${TP_KAFKA_HEAP:-1g}" -XX:+UseG1GC -Djava.awt.headless=true
  "-Dkafka.logs.dir=$TP_LOG/kafka"
  "-Dlog4j2.configurationFile=$TP_ROOT/deploy/kafka/log4j2.yaml"
  -cp "$LIB/*")

start() {
  if pid_alive kafka; then log "kafka already running"; return 0; fi
  fetch
  mkdir -p "$KDIR" "$TP_LOG/kafka"
  local props=$KDIR/server.properties
  { cat "$TP_ROOT/deploy/kafka/server.properties"; echo "log.dirs=$KDIR/data"; } >"$props"
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    log "formatting Kafka storage"
    local id; id=$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    "${JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$props" >>"$TP_LOG/kafka-format.log" 2>&1
  fi
  log "starting kafka on 127.0.0.1:9092"
  start_bg kafka "${JAVA[@]}" kafka.Kafka "$props"
  wait_for kafka 90 port_open 9092 || { tail -n 30 "$TP_LOG/kafka.log" "$TP_LOG/kafka/server.log" >&2 || true; return 1; }
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop_pid kafka ;;
  status) pid_alive kafka && echo "kafka running" || { echo "kafka stopped"; exit 1; } ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
