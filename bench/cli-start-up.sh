#!/usr/bin/env bash
# CLI start-up, whole process (spawn to exit, output to /dev/null), compiled build:
# the median of RUNS runs (default 11) of `node -e ''`, `--help` and
# `status --json --db FILE` on a database of ADAPTERS adapters (default 10,000),
# which bench/status-database.ts writes first if FILE does not exist.
#
# Run after `npm run build`: bash bench/cli-start-up.sh [FILE]
# (default FILE: $TMPDIR/oneiric-healthd-status-10000.db, kept for later runs).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-11}
adapters=${ADAPTERS:-10000}
db=${1:-${TMPDIR:-/tmp}/oneiric-healthd-status-${adapters}.db}

if [[ ! -f dist/cli.js ]]; then
  echo "no dist/cli.js: run npm run build first" >&2
  exit 1
fi
npx tsx bench/status-database.ts "$db" --adapters "$adapters"

# Milliseconds of each of $runs runs of the command, then their median.
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ all[NR] = $1 } END { printf "%d ms (runs: %d, min %d, max %d)", all[int((NR + 1) / 2)], NR, all[1], all[NR] }'
}

export ONEIRIC_HEALTHD_COMPILED=1
echo "node -e ''               $(median_ms node -e '')"
echo "--help                   $(median_ms node bin/oneiric-healthd.js --help)"
echo "status --json --db       $(median_ms node bin/oneiric-healthd.js status --json --db "$db")"
