#!/usr/bin/env bash
# bench/dkim/run.sh - DKIM sign/verify throughput per core (RSA-2048 and
# Ed25519, 4 KB message) next to the raw signature rate of `openssl speed`
# on this machine, and the ratio (target: >= 80%).
#
#   bench/dkim/run.sh            (after `make`; BENCH_SECONDS=3 by default)
#
# Both sides are rates per second of CPU time: `openssl speed` divides by
# the user CPU time of its process unless given -elapsed, so bench_dkim
# divides by its thread's CPU time (user + system: never in moat's
# favour). On a busy machine a wall-clock rate would drop with the load
# while openssl's would not; moat's wall-clock rate is printed too.
#
# "full" is the whole DKIM operation (parse, canonicalize and hash the
# 4 KB message, sign or verify) against the bare signature operation of
# `openssl speed` (a prepared context, a 36-byte input): the target. Any
# DKIM operation also has to hash the message, which openssl speed does
# not do, so "vs raw+hash" compares against the signature rate with one
# SHA-256 pass over the same message added (1 / (1/raw + 1/sha256)):
# what moat adds beyond the least OpenSSL itself must do.
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
# rate ALG OP FIELD: 3 CPU-time rate, 4 wall-clock rate, 5 SHA-256 rate
rate() {
	awk -v a="$1" -v o="$2" -v f="$3" '$1 == a && $2 == o {print $f}' \
	    "$TMP/dkim"
}

printf "%-8s %-7s %12s %13s %7s %13s %8s %12s\n" alg op "moat DKIM/s" \
    "openssl raw/s" full "raw+hash/s" "vs r+h" "moat wall/s"
row() {
	local moat raw hash wall both

	moat=$(rate "$1" "$2" 3)
	wall=$(rate "$1" "$2" 4)
	hash=$(rate "$1" "$2" 5)
	raw=$3
	both=$(awk -v r="$raw" -v h="$hash" 'BEGIN {print 1 / (1 / r + 1 / h)}')
	printf "%-8s %-7s %12.1f %13.1f %6.1f%% %13.1f %7.1f%% %12.1f\n" \
	    "$1" "$2" "$moat" "$raw" \
	    "$(awk -v a="$moat" -v b="$raw" 'BEGIN {print 100 * a / b}')" \
	    "$both" \
	    "$(awk -v a="$moat" -v b="$both" 'BEGIN {print 100 * a / b}')" \
	    "$wall"
}
row rsa2048 sign "$RAW_RSA_SIGN"
row rsa2048 verify "$RAW_RSA_VERIFY"
row ed25519 sign "$RAW_ED_SIGN"
row ed25519 verify "$RAW_ED_VERIFY"
echo "(4 KB message, one core, rates per CPU second; target: full >= 80%)"
