#!/usr/bin/env bash
# bench/dkim/run.sh - DKIM sign/verify throughput per core (RSA-2048 and
# Ed25519, 4 KB message) next to the raw signature rate of `openssl speed`
# on this machine, and the ratio (target: >= 80%).
#
#   bench/dkim/run.sh            (after `make`; BENCH_SECONDS=3 by default)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SECONDS_PER=${BENCH_SECONDS:-3}
CC=${CC:-cc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for lib in src/libmoatdaemon.a libmoatcore.a; do
	[ -f "$BUILD/$lib" ] || { echo "missing $BUILD/$lib: run make" >&2; exit 1; }
done
# -O2 like the daemon; the DKIM code comes from the daemon's own library.
$CC -std=c17 -O2 -D_GNU_SOURCE -I"$ROOT/src/core" -I"$ROOT/src/authn" \
    -I"$ROOT/src" -o "$TMP/bench_dkim" "$HERE/bench_dkim.c" \
    "$BUILD/src/libmoatdaemon.a" "$BUILD/libmoatcore.a" \
    -lunbound -luv -lssl -lcrypto -lpthread

echo "openssl speed -seconds $SECONDS_PER rsa2048 ed25519 ..." >&2
openssl speed -seconds "$SECONDS_PER" rsa2048 ed25519 >"$TMP/speed" 2>/dev/null
# "rsa 2048 bits 0.000658s 0.000019s 1519.3 52416.5"
read -r RAW_RSA_SIGN RAW_RSA_VERIFY < <(awk '/^rsa 2048 bits/ {print $6, $7}' "$TMP/speed")
# " 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  27425.3   9843.0"
read -r RAW_ED_SIGN RAW_ED_VERIFY < <(awk '/EdDSA \(Ed25519\)/ && /bits/ {print $(NF-1), $NF}' "$TMP/speed")

echo "bench_dkim $SECONDS_PER s per case ..." >&2
"$TMP/bench_dkim" "$SECONDS_PER" >"$TMP/dkim"
rate() { awk -v a="$1" -v o="$2" '$1 == a && $2 == o {print $3}' "$TMP/dkim"; }

printf "%-8s %-7s %14s %14s %7s\n" alg op "moat DKIM/s" "openssl raw/s" ratio
row() {
	printf "%-8s %-7s %14.1f %14.1f %6.1f%%\n" "$1" "$2" "$3" "$4" \
	    "$(awk -v a="$3" -v b="$4" 'BEGIN {print 100 * a / b}')"
}
row rsa2048 sign "$(rate rsa2048 sign)" "$RAW_RSA_SIGN"
row rsa2048 verify "$(rate rsa2048 verify)" "$RAW_RSA_VERIFY"
row ed25519 sign "$(rate ed25519 sign)" "$RAW_ED_SIGN"
row ed25519 verify "$(rate ed25519 verify)" "$RAW_ED_VERIFY"
echo "(4 KB message, one core; target >= 80% of the raw signature rate)"
