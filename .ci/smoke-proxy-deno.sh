#!/usr/bin/env bash
# CI smoke, after `npm test` (the broker is up): the logging reverse proxy under Deno 2.
#
# Starts a node:http upstream, runs `deno run -A src/programs/proxy.ts` in front of it publishing
# to a topic of its own, sends a GET and a POST through it (the answers and x-request-id must
# come back), then SIGTERM: the proxy must exit 0 after its request logger (the core, inline under
# Deno) reported both events sent.
# `--help` must work too. Exits non-zero on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."

export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
prefix="apimon_proxy_deno_$(date +%s)_$$"
tmp="$(mktemp -d)"
export TOPIC_MAP="${tmp}/topics.json"
pids=()

step() { printf '\n-- smoke-proxy-deno: %s\n' "$*"; }
fail() {
  printf '\nsmoke-proxy-deno: FAILED: %s\n' "$*" >&2
  [ -f "${tmp}/proxy.log" ] && tail -n 20 "${tmp}/proxy.log" >&2
  exit 1
}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# the Deno binary itself (npm run deno fetches the pinned version), so that SIGTERM reaches it
deno="$(npm run --silent deno -- eval 'console.log(Deno.execPath())' | tail -n 1)"
step "Deno: $("$deno" --version | head -n 1)"
"$deno" run -A src/programs/proxy.ts --help | grep -q "PROXY_UPSTREAM" || fail "proxy --help under Deno"

cat >"$TOPIC_MAP" <<EOF
{ "partitions": 1, "retentionMs": 3600000,
  "levels": { "DEBUG": "${prefix}", "INFO": "${prefix}", "WARN": "${prefix}", "ERROR": "${prefix}" },
  "plugins": [], "deadLetterTopic": "${prefix}.dlq" }
EOF

step "upstream (node:http)"
node -e '
  const http = require("node:http")
  const s = http.createServer((req, res) => {
    let n = 0
    req.on("data", (c) => (n += c.length))
    req.on("end", () => res.end(JSON.stringify({ method: req.method, url: req.url, bytes: n })))
  })
  s.listen(0, "127.0.0.1", () => console.log(s.address().port))
' >"${tmp}/upstream.port" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "${tmp}/upstream.port" ] && break; sleep 0.1; done
upstream_port="$(head -n 1 "${tmp}/upstream.port")"
[ -n "$upstream_port" ] || fail "the upstream did not start"

step "proxy under Deno → http://127.0.0.1:${upstream_port}, events to ${prefix}"
"$deno" run -A src/programs/proxy.ts --upstream "http://127.0.0.1:${upstream_port}" --port 0 --host 127.0.0.1 \
  --publisher kafka >"${tmp}/proxy.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
port=""
for _ in $(seq 1 240); do
  port="$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "${tmp}/proxy.log")"
  [ -n "$port" ] && break
  kill -0 "$proxy_pid" 2>/dev/null || fail "the proxy exited before listening"
  sleep 0.5
done
[ -n "$port" ] || fail "the proxy did not listen within 2 minutes"

step "requests through 127.0.0.1:${port}"
headers="$(curl -fsS -D - -o "${tmp}/get.json" -H 'x-request-id: deno-smoke-1' "http://127.0.0.1:${port}/users/42?x=1")" ||
  fail "GET through the proxy"
grep -qi '^x-request-id: deno-smoke-1' <<<"$headers" || fail "x-request-id not echoed"
grep -q '"url":"/users/42?x=1"' "${tmp}/get.json" || fail "GET answer: $(cat "${tmp}/get.json")"
curl -fsS -X POST --data-binary 'hello deno' "http://127.0.0.1:${port}/orders" -o "${tmp}/post.json" ||
  fail "POST through the proxy"
grep -q '"bytes":10' "${tmp}/post.json" || fail "POST answer: $(cat "${tmp}/post.json")"

step "SIGTERM"
kill -TERM "$proxy_pid"
code=0
wait "$proxy_pid" || code=$?
[ "$code" = 0 ] || fail "the proxy exited with status ${code}"
grep -Eq 'proxy: events.*sent[^0-9a-z]{1,3}2\b' "${tmp}/proxy.log" || fail "the request logger did not report 2 events sent"
echo "smoke-proxy-deno: ok (2 requests forwarded and published under Deno, clean stop)"
