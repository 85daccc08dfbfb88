#!/usr/bin/env bash
# bench/screen/run.sh - connect-time cost of screening: screen_connect()
# with 100,000 static rules and 100,000 active counters in the shared map
# (target: under 5 us per check; mean and p99 are printed with PASS or
# FAIL).
#
#   make && bench/screen/run.sh      (also run by `make bench`)
#
# bench_screen is built with the project (build/bench/screen/). It builds
# its state in a temp dir (about 80 MB: screen.map, moat.db and the rule
# file), removed on exit. No root needed, no peer: Postfix and fail2ban
# have no comparable in-process check, so the numbers are absolute.
#
# Knobs: BENCH_CALLS (timed screen_connect calls, default 1000000),
# BENCH_SEED (42), BUILD (build), TMPDIR (where the temp dir goes).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/bench/screen/bench_screen
CALLS=${BENCH_CALLS:-1000000}
SEED=${BENCH_SEED:-42}

[ -x "$BIN" ] || { echo "missing $BIN: run make" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/moat-screen-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
    "$(nproc) online; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $BIN $TMP $CALLS $SEED"
"$BIN" "$TMP" "$CALLS" "$SEED"
