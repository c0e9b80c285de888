#!/usr/bin/env bash
# A whole Touchpoint cluster on one machine, for trying scale-out and testing it: ZooKeeper,
# ClickHouse in two shards of two replicas (four clickhouse-server processes), three Kafka
# brokers (KRaft, topics with replication factor 3 and min.insync.replicas 2), and two
# instances of each service. Everything listens on loopback, on ports apart from the
# single-node stack's (docs/deploy.md lists them), with its data in $TP_STACK_DIR/cluster.
#
# The services run from bin/ as it is: `make cluster-test` builds it first; after a change,
# run `make build` before `cluster.sh up` or `test`.
#
# Usage: cluster.sh fetch|up|down|status|test|kill NAME
#   test  starts a fresh cluster, runs the end-to-end tests on it (including killing a
#         broker and a ClickHouse replica under load), stops it and prints how long it took.
#   kill  SIGKILLs one process (ch1…ch4, kafka1…kafka3, zookeeper or a service); `up`
#         starts it again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$TP_ROOT"

CL=$TP_STACK_DIR/cluster
ZK_LIB=$TP_STACK_DIR/zookeeper/lib
KAFKA_LIB=$TP_STACK_DIR/kafka/lib
CLUSTER=touchpoint
CH_NODES=(1 2 3 4)
KAFKA_NODES=(1 2 3)
ch_tcp() { echo $((9100 + $1)); }
ch_http() { echo $((8200 + $1)); }
kafka_port() { echo $((19091 + $1)); }
kafka_ctrl() { echo $((19191 + $1)); }

# What the services and tests use to reach the cluster.
CH_ADDRS=127.0.0.1:9101,127.0.0.1:9103,127.0.0.1:9102,127.0.0.1:9104
KAFKA_BROKERS=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
export TP_CLICKHOUSE_ADDR=$CH_ADDRS TP_KAFKA_BROKERS=$KAFKA_BROKERS TP_CLICKHOUSE_CLUSTER=$CLUSTER
export TP_KAFKA_REPLICATION_FACTOR=3 TP_KAFKA_MIN_INSYNC_REPLICAS=2

# Two of each service: name, health URL, arguments.
SERVICES=(
  "cluster-stitcher1 http://127.0.0.1:18182/healthz -http.listen 127.0.0.1:18182"
  "cluster-stitcher2 http://127.0.0.1:18192/healthz -http.listen 127.0.0.1:18192"
  "cluster-attribution1 http://127.0.0.1:18181/healthz -http.listen 127.0.0.1:18181 -metrics.listen 127.0.0.1:18184"
  "cluster-attribution2 http://127.0.0.1:18191/healthz -http.listen 127.0.0.1:18191 -metrics.listen 127.0.0.1:18194"
  "cluster-collector1 http://127.0.0.1:18180/healthz -http.listen 127.0.0.1:18180 -metrics.listen 127.0.0.1:18183 -spool.dir CL/spool1"
  "cluster-collector2 http://127.0.0.1:18190/healthz -http.listen 127.0.0.1:18190 -metrics.listen 127.0.0.1:18193 -spool.dir CL/spool2"
)

fetch() {
  scripts/kafka.sh fetch
  local pom=$TP_ROOT/deploy/zookeeper/pom.xml sum
  sum=$(sha256sum "$pom" | cut -c1-16)
  [ -f "$ZK_LIB/.pom-$sum" ] && return 0
  log "fetching ZooKeeper jars from Maven Central"
  rm -rf "$ZK_LIB"; mkdir -p "$ZK_LIB"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$ZK_LIB"
  touch "$ZK_LIB/.pom-$sum"
}

# A connection made while ZooKeeper starts may never be answered: each try has a timeout.
zk_ready() { timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && echo srvr >&3 && grep -q "Mode: standalone" <&3'; }

zookeeper_up() {
  pid_alive cluster-zookeeper && return 0
  mkdir -p "$CL/zookeeper/data"
  cat >"$CL/zookeeper/zoo.cfg" <<EOF
tickTime=2000
dataDir=$CL/zookeeper/data
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr,cons
EOF
  log "starting zookeeper on 127.0.0.1:2181"
  start_bg cluster-zookeeper java -Xms32m -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$ZK_LIB/*" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$CL/zookeeper/zoo.cfg"
  wait_for zookeeper 60 zk_ready || { tail -n 20 "$TP_LOG/cluster-zookeeper.log" >&2; return 1; }
}

ch_ready() { curl -sf "http://127.0.0.1:$(ch_http "$1")/?query=SELECT%201" | grep -q 1; }

ch_up() {
  local i=$1 dir=$CL/ch$1
  pid_alive "cluster-ch$i" && return 0
  mkdir -p "$dir/config.d" "$dir/log" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  cp deploy/clickhouse/config.xml "$dir/config.xml"
  cp deploy/clickhouse/cluster/users.xml "$dir/users.xml"
  cp deploy/clickhouse/cluster/cluster.xml "$dir/config.d/cluster.xml"
  cat >"$dir/config.d/node.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <tcp_port>$(ch_tcp "$i")</tcp_port>
    <http_port>$(ch_http "$i")</http_port>
    <interserver_http_port>$((9300 + i))</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <macros><shard>0$(((i + 1) / 2))</shard><replica>r$(((i - 1) % 2 + 1))</replica></macros>
</yandex>
EOF
  log "starting clickhouse ch$i (shard $(((i + 1) / 2)), replica $(((i - 1) % 2 + 1))) on 127.0.0.1:$(ch_tcp "$i")"
  (cd "$dir" && start_bg "cluster-ch$i" clickhouse-server --config-file="$dir/config.xml")
}

kafka_up() {
  local i=$1 dir=$CL/kafka$1 voters="" j
  pid_alive "cluster-kafka$i" && return 0
  for j in "${KAFKA_NODES[@]}"; do voters+="${voters:+,}$j@127.0.0.1:$(kafka_ctrl "$j")"; done
  mkdir -p "$dir" "$TP_LOG/cluster-kafka$i"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i"),CONTROLLER://127.0.0.1:$(kafka_ctrl "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
auto.create.topics.enable=false
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
log.dirs=$dir/data
EOF
  local java=(java -Xms128m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    "-Dkafka.logs.dir=$TP_LOG/cluster-kafka$i" "-Dlog4j2.configurationFile=$TP_ROOT/deploy/kafka/log4j2.yaml" -cp "$KAFKA_LIB/*")
  if [ ! -f "$dir/data/meta.properties" ]; then
    [ -f "$CL/kafka-cluster-id" ] || "${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 >"$CL/kafka-cluster-id"
    "${java[@]}" kafka.tools.StorageTool format -t "$(cat "$CL/kafka-cluster-id")" -c "$dir/server.properties" \
      >>"$TP_LOG/cluster-kafka-format.log" 2>&1
  fi
  log "starting kafka$i on 127.0.0.1:$(kafka_port "$i")"
  start_bg "cluster-kafka$i" "${java[@]}" kafka.Kafka "$dir/server.properties"
}

services_up() {
  local entry name url args
  if [ -z "${TP_GEOIP+set}" ]; then
    scripts/geoip.sh fetch
    TP_GEOIP=$(scripts/geoip.sh files)
    export TP_GEOIP
  fi
  for entry in "${SERVICES[@]}"; do
    read -r name url args <<<"$entry"
    pid_alive "$name" && continue
    local bin=${name#cluster-}; bin=${bin%[0-9]}
    log "starting $name"
    # shellcheck disable=SC2086 # args are words
    start_bg "$name" "bin/$bin" ${args//CL/$CL}
  done
  for entry in "${SERVICES[@]}"; do
    read -r name url _ <<<"$entry"
    wait_for "$name" 60 curl -sf "$url" || { tail -n 20 "$TP_LOG/$name.log" >&2; return 1; }
  done
}

up() {
  fetch
  mkdir -p "$CL"
  zookeeper_up
  local i
  for i in "${KAFKA_NODES[@]}"; do kafka_up "$i"; done
  for i in "${CH_NODES[@]}"; do ch_up "$i"; done
  for i in "${CH_NODES[@]}"; do
    wait_for "clickhouse ch$i" 60 ch_ready "$i" || { tail -n 20 "$CL/ch$i/log/clickhouse-server.err.log" >&2; return 1; }
  done
  for i in "${KAFKA_NODES[@]}"; do
    wait_for "kafka$i" 120 port_open "$(kafka_port "$i")" || { tail -n 30 "$TP_LOG/cluster-kafka$i.log" >&2; return 1; }
  done
  bin/migrate -cluster "$CLUSTER" >>"$TP_LOG/cluster-migrate.log" 2>&1 || { tail -n 20 "$TP_LOG/cluster-migrate.log" >&2; return 1; }
  services_up
  log "cluster up: collectors http://127.0.0.1:18180 and :18190, reports http://127.0.0.1:18181 and :18191, ClickHouse $CH_ADDRS, Kafka $KAFKA_BROKERS"
}

down() {
  local i entry name
  for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
    read -r name _ <<<"${SERVICES[$i]}"
    stop_pid "$name"
  done
  local stops=()
  for i in "${CH_NODES[@]}"; do stop_pid "cluster-ch$i" & stops+=($!); done
  wait "${stops[@]}"
  # Together: the last broker of a quorum stopped alone waits for the others in vain.
  stops=()
  for i in "${KAFKA_NODES[@]}"; do stop_pid "cluster-kafka$i" & stops+=($!); done
  wait "${stops[@]}"
  stop_pid cluster-zookeeper
}

status() {
  local rc=0 name
  for name in cluster-zookeeper cluster-kafka{1,2,3} cluster-ch{1,2,3,4} $(printf '%s\n' "${SERVICES[@]}" | cut -d' ' -f1); do
    if pid_alive "$name"; then echo "$name running (pid $(cat "$TP_RUN/$name.pid"))"; else echo "$name stopped"; rc=1; fi
  done
  return $rc
}

kill_one() {
  local name=cluster-$1 pid
  pid_alive "$name" || { log "$name is not running"; return 1; }
  pid=$(cat "$TP_RUN/$name.pid")
  log "killing $name (pid $pid)"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$TP_RUN/$name.pid"
}

run_test() {
  local start=$SECONDS
  down
  rm -rf "$CL"
  trap down EXIT
  up
  log "cluster started in $((SECONDS - start))s"
  # The end-to-end tests, then the scale-out tests of the stitcher and attribution, all on
  # the cluster; one end-to-end test kills a broker and a replica, and brings them back.
  export TP_COLLECTOR_URL=http://127.0.0.1:18180 TP_CLUSTER_SCRIPT="$TP_ROOT/scripts/cluster.sh"
  local report='^(--- |ok|FAIL|panic)|^ +[a-z_]+_test\.go:[0-9]+:' failed=0 out=$TP_LOG/cluster-test.log
  : >"$out"
  go test -v -count=1 -p 1 -tags cluster -timeout 20m ./e2e/ ./internal/lease/ 2>&1 | tee -a "$out" |
    { grep -E "$report" || true; } || failed=1
  go test -v -count=1 -p 1 -timeout 10m -run 'TestTwoStitchersAgreeOnPersons|TestOneInstanceRunsTheJobsAtATime' \
    ./stitcher/ ./cmd/attribution/ 2>&1 | tee -a "$out" | { grep -E "$report" || true; } || failed=1
  if [ $failed = 1 ]; then
    # The filter above shows the tests' verdicts only; a failure needs the rest: the output
    # of the services a failed test started, and the cluster services' logs.
    local entry name
    echo "--- the failed tests' whole output (all of it: $out)" >&2
    awk '/^=== RUN /{buf = ""} {buf = buf $0 "\n"} /^ *--- FAIL:/{printf "%s", buf; buf = ""}' "$out" | tail -n 300 >&2
    for entry in "${SERVICES[@]}"; do
      name=${entry%% *}
      echo "--- last lines of $TP_LOG/$name.log" >&2
      tail -n 30 "$TP_LOG/$name.log" >&2 || true
    done
    log "cluster test failed after $((SECONDS - start))s"
    return 1
  fi
  log "cluster test passed in $((SECONDS - start))s"
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  test) run_test ;;
  kill) kill_one "${2:?name}" ;;
  *) echo "usage: $0 fetch|up|down|status|test|kill NAME" >&2; exit 2 ;;
esac
