#!/usr/bin/env bash
# CLI start-up, whole process (spawn to exit, output to /dev/null), compiled build:
# the median of RUNS runs (default 11) of `node -e ''`, `--help` and
# `status --json --db FILE` on a database of ADAPTERS adapters (default 10,000),
# which bench/status-database.ts writes first if FILE does not exist.
#
# Run after `npm run build`: bash bench/cli-start-up.sh [FILE]
# (default FILE: $TMPDIR/oneiric-healthd-status-10000.db, kept for later runs).
#
# BASELINE=DIR (another checkout or a copy of its bin/, dist/, migrations/ and
# package.json, built) times its `status --json` too, each of its runs right after
# one of this checkout's: on a shared machine only runs taken side by side compare.
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

# Milliseconds of one run of the command, output to /dev/null.
ms_of() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

# The median (and the spread) of the milliseconds given.
summary() {
  printf '%s\n' "$@" | sort -n | awk '{ all[NR] = $1 } END { printf "%d ms (runs: %d, min %d, max %d)", all[int((NR + 1) / 2)], NR, all[1], all[NR] }'
}

# Milliseconds of each of $runs runs of the command, then their median.
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    times+=("$(ms_of "$@")")
  done
  summary "${times[@]}"
}

export ONEIRIC_HEALTHD_COMPILED=1
echo "node -e ''               $(median_ms node -e '')"
echo "--help                   $(median_ms node bin/oneiric-healthd.js --help)"
if [[ -z "${BASELINE:-}" ]]; then
  echo "status --json --db       $(median_ms node bin/oneiric-healthd.js status --json --db "$db")"
  exit 0
fi
# One run of each build in turn; then each build's median.
ours=()
theirs=()
for _ in $(seq "$runs"); do
  ours+=("$(ms_of node bin/oneiric-healthd.js status --json --db "$db")")
  theirs+=("$(ms_of node "$BASELINE/bin/oneiric-healthd.js" status --json --db "$db")")
done
echo "status --json --db       $(summary "${ours[@]}")"
echo "  BASELINE's             $(summary "${theirs[@]}")"
