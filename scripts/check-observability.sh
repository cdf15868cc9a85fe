#!/usr/bin/env bash
# Checks the observability assets against a live daemon: starts the simulator and
# the daemon (temporary directory, ports chosen by the kernel, both stopped on exit),
# waits for /readyz, then runs
#   - promtool check metrics on /metrics (any warning fails),
#   - promtool check rules and promtool test rules on deploy/prometheus/,
#   - the dashboard's PromQL: every metric name exported, every expression parsed
#     by promtool, and the alerts' runbook anchors present in docs/operations.md,
#   - the daemon's log lines: the documented pino shape.
# Exits non-zero on any problem. Needs node (after `npm ci`) and promtool
# (Debian: apt-get install prometheus); no curl.
set -euo pipefail
cd "$(dirname "$0")/.."

rules=deploy/prometheus/oneiric-healthd.rules.yml
rule_tests=deploy/prometheus/oneiric-healthd.rules.test.yml
dashboard=deploy/grafana/oneiric-healthd.json
runbooks=docs/operations.md

if ! command -v promtool >/dev/null 2>&1; then
  echo "check-observability: promtool not found (Debian: apt-get install prometheus)" >&2
  exit 1
fi

work="$(mktemp -d)"
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    # The daemon stops in a few seconds; anything still running after 10 s is killed.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_all EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# An HTTP GET with node (Node 20 has fetch): prints the body, fails on non-2xx.
http_get() {
  node -e '
    fetch(process.argv[1])
      .then(async (response) => {
        process.stdout.write(await response.text());
        process.exit(response.ok ? 0 : 1);
      })
      .catch(() => process.exit(1));
  ' "$1"
}

# Waits up to $2 seconds for the regex $3 in file $1 and prints the first match.
wait_for_line() {
  local file="$1" seconds="$2" pattern="$3" found=""
  for _ in $(seq 1 $((seconds * 10))); do
    found="$(grep -o -m1 -E "$pattern" "$file" 2>/dev/null || true)"
    if [ -n "$found" ]; then
      echo "$found"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

echo "== starting the simulator and the daemon in $work"
node bin/oneiric-healthd.js simulate --scenario examples/scenarios/demo.yaml \
  --listen 127.0.0.1:0 >"$work/simulator.log" 2>&1 &
pids+=("$!")
if ! registry="$(wait_for_line "$work/simulator.log" 30 'registry on [0-9.]+:[0-9]+')"; then
  cat "$work/simulator.log"
  echo "FAIL: the simulator did not start"
  exit 1
fi
registry_port="${registry##*:}"

# Requirements and a webhook to an address that refuses connections, so that the
# requirement, delivery, lag and parked series are all exported.
cat >"$work/healthd.yaml" <<EOF
oneiric_mcp:
  grpc_host: "127.0.0.1"
  grpc_port: ${registry_port}
healthd:
  http: { listen: "127.0.0.1:0" }
  grpc: { listen: "127.0.0.1:0" }
  storage: { path: "${work}/healthd.db" }
  probes: { interval_sec: 1 }
  resolution:
    requirements:
      - { domain: adapter, category: storage }
      - { domain: adapter, category: cache }
  webhooks:
    - name: observability-check
      url: "http://127.0.0.1:9/events"
      secret: "observability-check-secret"
      max_attempts: 2
      backoff: { initial_sec: 0.1, max_sec: 0.2 }
  log: { level: info }
EOF
node bin/oneiric-healthd.js run --config "$work/healthd.yaml" >"$work/daemon.log" 2>"$work/daemon.err" &
pids+=("$!")
if ! listening="$(wait_for_line "$work/daemon.log" 30 '"http":"[0-9.]+:[0-9]+"')"; then
  cat "$work/daemon.log" "$work/daemon.err"
  echo "FAIL: the daemon did not start listening"
  exit 1
fi
listening="${listening#\"http\":\"}"
base="http://${listening%\"}"
ready=""
for _ in $(seq 1 300); do
  if http_get "$base/readyz" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  cat "$work/daemon.log" "$work/daemon.err"
  echo "FAIL: $base/readyz did not answer 200 within 30 s"
  exit 1
fi
# Let a few rounds of checks commit (and the webhook park) so every series has samples.
for _ in $(seq 1 100); do
  http_get "$base/metrics" >"$work/metrics.txt" || true
  if grep -q 'oneiric_healthd_webhook_parked{subscriber="observability-check"} 1' "$work/metrics.txt" &&
    grep -qE '^oneiric_healthd_commit_batches_total [1-9]' "$work/metrics.txt"; then
    break
  fi
  sleep 0.1
done
sleep 1
http_get "$base/metrics" >"$work/metrics.txt" || fail "GET $base/metrics"
echo "daemon at $base, $(grep -c '^# TYPE' "$work/metrics.txt") metrics"

echo "== promtool check metrics ($base/metrics)"
status=0
promtool check metrics <"$work/metrics.txt" >"$work/promtool-metrics.out" 2>&1 || status=$?
if [ "$status" -ne 0 ] || [ -s "$work/promtool-metrics.out" ]; then
  cat "$work/promtool-metrics.out"
  fail "promtool check metrics (exit $status)"
else
  echo "no warnings"
fi

echo "== promtool check rules $rules"
promtool check rules "$rules" || fail "promtool check rules $rules"

echo "== promtool test rules $rule_tests"
promtool test rules "$rule_tests" || fail "promtool test rules $rule_tests"

echo "== dashboard, rules and logs against the live daemon"
runbook_args=()
if [ -f "$runbooks" ]; then
  runbook_args=(--runbooks "$runbooks")
else
  fail "$runbooks is missing: the alerts' runbook_url anchors point into it"
fi
node scripts/check-observability-assets.mjs \
  --metrics "$work/metrics.txt" \
  --dashboard "$dashboard" \
  --rules "$rules" \
  "${runbook_args[@]}" \
  --logs "$work/daemon.log" \
  --emit-rules "$work/dashboard-expressions.yml" ||
  fail "scripts/check-observability-assets.mjs"

echo "== promtool check rules on the dashboard's expressions"
promtool check rules "$work/dashboard-expressions.yml" || fail "a dashboard expression does not parse"

if [ "$failures" -gt 0 ]; then
  echo "check-observability: $failures problem(s)"
  exit 1
fi
echo "check-observability: all checks passed"
