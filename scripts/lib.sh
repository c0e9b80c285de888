# Shared helpers for the stack scripts. The stack's state (data, logs, pids) lives in
# $TP_STACK_DIR, by default .stack/ in the repository.
TP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TP_STACK_DIR=${TP_STACK_DIR:-$TP_ROOT/.stack}
TP_RUN=$TP_STACK_DIR/run
TP_LOG=$TP_STACK_DIR/log
mkdir -p "$TP_RUN" "$TP_LOG"

log() { echo "stack: $*" >&2; }

# pid_alive NAME: true when the process recorded in run/NAME.pid is running.
pid_alive() {
  local f=$TP_RUN/$1.pid pid state
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [[ $state != Z* ]] # an exited process not yet reaped is not running
}

# start_bg NAME CMD...: runs CMD in the background with its own process group, records its pid.
start_bg() {
  local name=$1; shift
  setsid "$@" >>"$TP_LOG/$name.log" 2>&1 < /dev/null &
  echo $! >"$TP_RUN/$name.pid"
}

# stop_pid NAME: SIGTERM, wait up to 30 s, then SIGKILL; removes the pid file.
stop_pid() {
  local name=$1 f=$TP_RUN/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 30 s, killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# wait_for WHAT SECONDS CMD...: retries CMD until it succeeds or the time is up.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "$what not ready after ${secs}s"
      return 1
    fi
    sleep 0.3
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
