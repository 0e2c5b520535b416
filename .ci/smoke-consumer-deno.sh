#!/usr/bin/env bash
# CI smoke, after `npm test` (the broker and MariaDB are up): the consumer program under Deno 2.
#
# Migrates a database of its own (apimon_deno_smoke), writes a topic map with topic names of
# its own, produces 500 events with the producer (under Node, tsx), then runs the consumer
# under Deno (`npm run deno -- run -A src/programs/consumer.ts --idle-exit 3`) and checks that exactly
# 500 rows were stored and counted once in the rollups (minute and hour). Drops the database (and the read-only
# user migrate creates) at the end, whatever happened. Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=500
DATABASE=apimon_deno_smoke
MYSQL_HOST=127.0.0.1
MYSQL_PORT=3306
export MYSQL_URL="mysql://root@${MYSQL_HOST}:${MYSQL_PORT}/${DATABASE}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"

run_id="$(date +%s)_$$"
prefix="apimon_deno_smoke_${run_id}"
export CONSUMER_GROUP="${prefix}_group"
# migrate creates (or updates) the read-only Grafana user: one of our own, dropped at the end
export GRAFANA_DB_USER="deno_smoke_${run_id}"
export GRAFANA_DB_PASSWORD="deno-smoke"

tmp="$(mktemp -d)"
export TOPIC_MAP="${tmp}/topics.json"

sql() { mysql --protocol=tcp -h"$MYSQL_HOST" -P"$MYSQL_PORT" -uroot -N -B -e "$1"; }
step() { printf '\n-- smoke-consumer-deno: %s\n' "$*"; }
fail() {
  printf '\nsmoke-consumer-deno: FAILED: %s\n' "$*" >&2
  exit 1
}
cleanup() {
  sql "DROP DATABASE IF EXISTS \`${DATABASE}\`; DROP USER IF EXISTS '${GRAFANA_DB_USER}'@'%'" ||
    echo "smoke-consumer-deno: could not drop ${DATABASE} or '${GRAFANA_DB_USER}'@'%'" >&2
  rm -rf "$tmp"
}
trap cleanup EXIT

# Deno: the version package.json pins (npm run deno), fetched on first use
step "Deno: $(npm run --silent deno -- --version | head -n 1)"

step "fresh database ${DATABASE} (${MYSQL_HOST}:${MYSQL_PORT})"
sql "DROP DATABASE IF EXISTS \`${DATABASE}\`" || fail "MariaDB is not reachable on ${MYSQL_HOST}:${MYSQL_PORT}"
npx --no-install tsx src/programs/migrate.ts || fail "migrate exited with status $?"

step "topic map ${TOPIC_MAP} (topics ${prefix}.*)"
cat >"$TOPIC_MAP" <<EOF
{
  "partitions": 4,
  "retentionMs": 3600000,
  "levels": {
    "DEBUG": "${prefix}.debug",
    "INFO": "${prefix}.info",
    "WARN": "${prefix}.warn",
    "ERROR": "${prefix}.error"
  },
  "plugins": [{ "plugin": "slow-requests", "topic": "${prefix}.slow", "thresholdMs": 1000 }],
  "deadLetterTopic": "${prefix}.dlq"
}
EOF

step "producer (Node): ${COUNT} events"
npx --no-install tsx src/programs/producer.ts --count "$COUNT" --rate 0 || fail "the producer exited with status $?"

step "consumer (Deno): until idle for 3 s"
# in a session of its own, so that npm, npx and deno can be stopped together
log="${tmp}/consumer.log"
: >"$log"
setsid npm run --silent deno -- run -A src/programs/consumer.ts --idle-exit 3 >"$log" 2>&1 &
consumer=$!
stopped_line="apimon consumer: stopped after"
running() { kill -0 "$consumer" 2>/dev/null; }
# poll with deadlines: the work done (its last line), then the process gone
deadline=$((SECONDS + 120))
while running && ! grep -q "$stopped_line" "$log" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
deadline=$((SECONDS + 15))
while running && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
hung=""
if running; then
  if grep -q "$stopped_line" "$log"; then
    hung="the consumer under Deno finished (it printed \"${stopped_line} …\") but the process did not exit within 15 s"
  else
    hung="the consumer under Deno did not finish within 120 s"
  fi
  kill -TERM -- "-${consumer}" 2>/dev/null || true
  sleep 2
  kill -KILL -- "-${consumer}" 2>/dev/null || true
  status=killed
else
  status=0
  wait "$consumer" || status=$?
fi
sed 's/^/  | /' "$log"
[ -n "$hung" ] || [ "$status" -eq 0 ] || fail "the consumer under Deno exited with status ${status}"

step "checking ${DATABASE}"
read -r rows ids rollups latency hourly hourly_latency < <(
  sql "SELECT (SELECT COUNT(*) FROM \`${DATABASE}\`.api_logs),
              (SELECT COUNT(DISTINCT event_id) FROM \`${DATABASE}\`.api_logs),
              (SELECT COALESCE(SUM(count), 0) FROM \`${DATABASE}\`.api_rollup_minute),
              (SELECT COALESCE(SUM(count), 0) FROM \`${DATABASE}\`.api_latency_minute),
              (SELECT COALESCE(SUM(count), 0) FROM \`${DATABASE}\`.api_rollup_hour),
              (SELECT COALESCE(SUM(count), 0) FROM \`${DATABASE}\`.api_latency_hour)"
) || fail "could not read the tables of ${DATABASE}"
echo "api_logs rows ${rows}, distinct event ids ${ids}, api_rollup_minute ${rollups}, api_latency_minute ${latency}, api_rollup_hour ${hourly}, api_latency_hour ${hourly_latency}"
[ "$rows" = "$COUNT" ] || fail "api_logs holds ${rows} rows, expected ${COUNT}"
[ "$ids" = "$COUNT" ] || fail "api_logs holds ${ids} distinct event ids, expected ${COUNT}"
[ "$rollups" = "$COUNT" ] || fail "api_rollup_minute counts ${rollups} events, expected ${COUNT}"
[ "$latency" = "$COUNT" ] || fail "api_latency_minute counts ${latency} events, expected ${COUNT}"
[ "$hourly" = "$COUNT" ] || fail "api_rollup_hour counts ${hourly} events, expected ${COUNT}"
[ "$hourly_latency" = "$COUNT" ] || fail "api_latency_hour counts ${hourly_latency} events, expected ${COUNT}"

# the rows are right: say so before failing on the process that would not end
[ -z "$hung" ] || fail "${hung} (the ${COUNT} rows are stored correctly). A known cause: kafkajs 2.2.4's RequestQueue re-arms a 0 ms setTimeout loop after disconnect (tulios/kafkajs#1556, #1704), which keeps Deno's event loop alive"

step "passed: the consumer under Deno stored ${COUNT} of ${COUNT} events, each once, and exited"
