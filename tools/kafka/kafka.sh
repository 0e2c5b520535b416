#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft: combined broker + controller, no ZooKeeper)
# on 127.0.0.1, without Docker. Jars come from Maven Central via tools/kafka/pom.xml.
#
# Usage: bash tools/kafka/kafka.sh <command>
#   fetch [--tools]  copy the broker's runtime jars into $KAFKA_HOME_DIR/lib (once per pom.xml version);
#                    --tools also copies kafka-tools (ProducerPerformance, ConsumerPerformance, ...)
#                    into $KAFKA_HOME_DIR/tools-lib (only the jars not already in lib)
#   start            fetch if needed, format storage once, start the broker in the background, wait until ready
#   stop             SIGTERM (controlled shutdown), SIGKILL after $KAFKA_STOP_TIMEOUT seconds
#   status           exit 0 if running, 3 if not
#   reset            stop and delete the data, logs and cluster id (keeps the jars)
#   logs [N]         print the last N (default 50) lines of the broker log
#   classpath [--tools]  print the java classpath (for running Kafka's own tools)
#
# Environment:
#   KAFKA_PORT             client (PLAINTEXT) port, default 9092
#   KAFKA_CONTROLLER_PORT  KRaft controller port, default 9093
#   KAFKA_HOME_DIR         state dir (lib, tools-lib, data, logs, pid), default <repo>/.kafka
#   KAFKA_HEAP_OPTS        default "-Xms256m -Xmx512m"
#   KAFKA_JVM_PERFORMANCE_OPTS  GC flags, default as Kafka's own kafka-run-class.sh
#   KAFKA_START_TIMEOUT    seconds to wait for readiness, default 60
#   KAFKA_STOP_TIMEOUT     seconds to wait for a controlled shutdown, default 30
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$REPO_ROOT/.kafka}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

POM="$SCRIPT_DIR/pom.xml"
TEMPLATE="$SCRIPT_DIR/server.properties.template"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"

LIB_DIR="$KAFKA_HOME_DIR/lib"
TOOLS_LIB_DIR="$KAFKA_HOME_DIR/tools-lib"
DATA_DIR="$KAFKA_HOME_DIR/data"
LOG_DIR="$KAFKA_HOME_DIR/logs"
LOG_FILE="$LOG_DIR/server.log"
PID_FILE="$KAFKA_HOME_DIR/kafka.pid"
CONFIG_FILE="$KAFKA_HOME_DIR/server.properties"
CLUSTER_ID_FILE="$KAFKA_HOME_DIR/cluster.id"

log() { printf '[kafka.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH ($2)"; }

pom_hash() { sha256sum "$POM" | cut -c1-16; }

# ---------------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------------

# run_mvn <output dir> [extra mvn args...]: offline first (fast when ~/.m2 has everything), then online.
run_mvn() {
  local out="$1"; shift
  local args=(-q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out" "$@")
  local mvn_log="$KAFKA_HOME_DIR/mvn.log"
  if mvn -o "${args[@]}" >"$mvn_log" 2>&1; then return 0; fi
  rm -rf "$out"
  if mvn "${args[@]}" >"$mvn_log" 2>&1; then return 0; fi
  tail -n 40 "$mvn_log" >&2
  die "maven could not fetch the Kafka jars (full log: $mvn_log)"
}

fetch_lib() {
  local marker
  marker=".fetched-$(pom_hash)"
  if [[ -f "$LIB_DIR/$marker" ]]; then return 0; fi
  need mvn "Maven is needed once to download the Kafka jars"
  mkdir -p "$KAFKA_HOME_DIR"
  local tmp="$KAFKA_HOME_DIR/lib.tmp.$$"
  rm -rf "$tmp"
  log "fetching Kafka broker jars into $LIB_DIR (maven) ..."
  local t0=$SECONDS
  run_mvn "$tmp"
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka_2.13 jar after maven ran"
  touch "$tmp/$marker"
  # The pom changed (or first fetch): replace both dirs, the tools dir depends on lib's contents.
  rm -rf "$LIB_DIR" "$TOOLS_LIB_DIR"
  mv "$tmp" "$LIB_DIR"
  log "fetched $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

fetch_tools() {
  fetch_lib
  local marker
  marker=".fetched-$(pom_hash)"
  if [[ -f "$TOOLS_LIB_DIR/$marker" ]]; then return 0; fi
  need mvn "Maven is needed once to download the Kafka tools jars"
  local tmp="$KAFKA_HOME_DIR/tools-lib.tmp.$$"
  rm -rf "$tmp"
  log "fetching Kafka tools jars into $TOOLS_LIB_DIR (maven, profile 'tools') ..."
  local t0=$SECONDS
  run_mvn "$tmp" -Ptools
  ls "$tmp"/kafka-tools-[0-9]*.jar >/dev/null 2>&1 || die "no kafka-tools jar after maven ran"
  # Keep only what lib lacks, so '$LIB_DIR/*:$TOOLS_LIB_DIR/*' has each jar once.
  local jar
  for jar in "$tmp"/*.jar; do
    if [[ -f "$LIB_DIR/$(basename "$jar")" ]]; then rm -f "$jar"; fi
  done
  touch "$tmp/$marker"
  rm -rf "$TOOLS_LIB_DIR"
  mv "$tmp" "$TOOLS_LIB_DIR"
  log "fetched $(find "$TOOLS_LIB_DIR" -name '*.jar' | wc -l) extra tools jars in $((SECONDS - t0)) s"
}

cmd_fetch() {
  local tools=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --tools) tools=1 ;;
      *) die "fetch: unknown option $1" ;;
    esac
    shift
  done
  fetch_lib
  if [[ $tools -eq 1 ]]; then fetch_tools; fi
  log "jars ready in $LIB_DIR$([[ $tools -eq 1 ]] && echo " and $TOOLS_LIB_DIR")"
}

cmd_classpath() {
  if [[ "${1:-}" == "--tools" ]]; then
    echo "$LIB_DIR/*:$TOOLS_LIB_DIR/*"
  else
    echo "$LIB_DIR/*"
  fi
}

# ---------------------------------------------------------------------------------------------
# process helpers
# ---------------------------------------------------------------------------------------------

# Prints the broker's pid if the pid file names a live kafka.Kafka process (a reused pid does not count).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  fi
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A real Kafka protocol round trip: Metadata v6 (the version kafkajs sends) for no topics.
# Succeeds if the response carries our correlation id and at least one broker.
metadata_ok() {
  local port="$1"
  local bytes
  # size=22 | api_key=3 | api_version=6 | correlation_id=42 | client_id="kafkash" | topics=[] | allow_auto_topic_creation=false
  bytes="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "\x00\x00\x00\x16\x00\x03\x00\x06\x00\x00\x00\x2a\x00\x07kafkash\x00\x00\x00\x00\x00" >&3
    head -c 16 <&3 | od -An -tu1
  ' "$port" 2>/dev/null)" || return 1
  # shellcheck disable=SC2206
  local b=($bytes)
  [[ ${#b[@]} -eq 16 ]] || return 1
  # bytes 4..7: correlation id; 8..11: throttle_time_ms; 12..15: number of brokers
  [[ "${b[4]} ${b[5]} ${b[6]} ${b[7]}" == "0 0 0 42" ]] || return 1
  local brokers=$(( (b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15] ))
  [[ $brokers -ge 1 ]]
}

server_started_logged() {
  [[ -f "$LOG_FILE" ]] && grep -q 'Kafka Server started' "$LOG_FILE"
}

is_ready() { port_open "$KAFKA_PORT" && metadata_ok "$KAFKA_PORT" && server_started_logged; }

# ---------------------------------------------------------------------------------------------
# start / stop / status / reset
# ---------------------------------------------------------------------------------------------

render_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@DATA_DIR@|$DATA_DIR|g" \
      "$TEMPLATE" >"$CONFIG_FILE.tmp"
  mv "$CONFIG_FILE.tmp" "$CONFIG_FILE"
}

format_storage_once() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then return 0; fi
  local cluster_id
  if [[ -s "$CLUSTER_ID_FILE" ]]; then
    cluster_id="$(cat "$CLUSTER_ID_FILE")"
  else
    cluster_id="$(java -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    [[ -n "$cluster_id" ]] || die "StorageTool random-uuid printed nothing"
    echo "$cluster_id" >"$CLUSTER_ID_FILE"
  fi
  log "formatting storage in $DATA_DIR (cluster id $cluster_id) ..."
  local out
  if ! out="$(java -Dlog4j2.configurationFile="$LOG4J_CONFIG" -cp "$LIB_DIR/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_FILE" --ignore-formatted 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting storage failed"
  fi
  [[ -f "$DATA_DIR/meta.properties" ]] || { printf '%s\n' "$out" >&2; die "format did not write meta.properties"; }
}

wait_ready() {
  local pid="$1" t0="$2"
  local deadline=$((t0 + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker process $pid exited during start-up; last log lines ($LOG_FILE):"
      tail -n 40 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      exit 1
    fi
    if is_ready; then return 0; fi
    if [[ $SECONDS -ge $deadline ]]; then
      log "broker not ready after ${KAFKA_START_TIMEOUT} s; last log lines ($LOG_FILE):"
      tail -n 40 "$LOG_FILE" >&2 || true
      log "the broker (pid $pid) is left running; 'kafka.sh stop' ends it"
      exit 1
    fi
    sleep 0.25
  done
}

cmd_start() {
  local pid t0=$SECONDS
  if pid="$(running_pid)"; then
    if is_ready; then
      log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    log "already running (pid $pid), waiting for it to be ready ..."
    wait_ready "$pid" "$t0"
    log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    return 0
  fi
  rm -f "$PID_FILE"
  need java "Java 17+ is needed to run Kafka 4.x"
  if port_open "$KAFKA_PORT"; then
    die "127.0.0.1:$KAFKA_PORT is in use by another process (not started by this script); set KAFKA_PORT"
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "127.0.0.1:$KAFKA_CONTROLLER_PORT is in use by another process; set KAFKA_CONTROLLER_PORT"
  fi

  fetch_lib
  render_config
  format_storage_once

  # Fresh log per start (the readiness check reads it); keep the previous one.
  if [[ -f "$LOG_FILE" ]]; then mv -f "$LOG_FILE" "$LOG_FILE.1"; fi
  : >"$LOG_FILE"

  log "starting Kafka on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT, data $DATA_DIR) ..."
  # setsid: the broker gets its own session, so it outlives the calling shell / npm and its Ctrl-C.
  # The inner bash writes its own pid, then execs java under that same pid.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS \
      -Dlog4j2.configurationFile="$LOG4J_CONFIG" \
      -Dkafka.logs.dir="$LOG_DIR" \
      -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG_FILE" \
      </dev/null >>"$LOG_FILE" 2>&1 &
  local launcher=$!
  # Wait for the pid file written by the inner bash.
  local i
  for i in $(seq 1 40); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.05
  done
  pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || pid="$launcher"
  echo "$pid" >"$PID_FILE"

  wait_ready "$pid" "$t0"
  log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid) after $((SECONDS - t0)) s; log: $LOG_FILE"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping Kafka (pid $pid, controlled shutdown) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [[ $SECONDS -ge $deadline ]]; then
      log "still alive after ${KAFKA_STOP_TIMEOUT} s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if is_ready; then
      echo "Kafka running (pid $pid) on 127.0.0.1:$KAFKA_PORT, ready"
    else
      echo "Kafka running (pid $pid) on 127.0.0.1:$KAFKA_PORT, not ready (yet)"
    fi
    return 0
  fi
  echo "Kafka not running (port $KAFKA_PORT)"
  return 3
}

cmd_reset() {
  cmd_stop
  rm -rf "$DATA_DIR" "$LOG_DIR" "$CLUSTER_ID_FILE" "$CONFIG_FILE"
  log "deleted data and logs under $KAFKA_HOME_DIR (jars kept)"
}

cmd_logs() {
  tail -n "${1:-50}" "$LOG_FILE"
}

usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    logs) cmd_logs "$@" ;;
    classpath) cmd_classpath "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
