#!/usr/bin/env bash
# bench/spam/run.sh - accuracy and speed of moat's Bayesian filter on the
# SpamAssassin public corpus (4,150 ham, 1,896 spam), next to bogofilter
# (Debian package, default settings) on the same folds and order:
#
#   1. 5-fold cross-validation: within each class the n-th message of
#      MANIFEST.tsv is in fold n % 5; train on four folds, score the fifth.
#   2. TREC spam-track online protocol: every message in arrival order
#      (the MANIFEST's received date, ties in MANIFEST order) is scored,
#      then learned with its true label.
#
# Prints FP (ham scored spam) and FN (spam not scored spam) at each
# filter's default threshold (moat: bayes_params_default() spam_cutoff;
# bogofilter: its "S" verdict, spam_cutoff 0.99), a table by threshold,
# and messages classified per CPU second by one process (moat's test
# folds, scored in memory after training; read from memory, not disk).
#
#   bench/spam/run.sh        (after `make`; needs bogofilter, python3)
#
# Knobs: CORPUS (the corpus dir), BUILD (build), CC (cc),
# BENCH_NO_BOGOFILTER=1, BENCH_NO_ONLINE=1 (the online bogofilter run
# starts two processes per message: about a minute). The corpus never
# leaves the machine.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CORPUS=${CORPUS:-/work/shared/testdata/corpus/spamassassin}
CC=${CC:-cc}
PYTHON=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for lib in src/libmoatdaemon.a libmoatmime.a libmoatstore.a libmoatcore.a; do
	[ -f "$BUILD/$lib" ] || { echo "missing $BUILD/$lib: run make" >&2; exit 1; }
done
[ -f "$CORPUS/MANIFEST.tsv" ] || { echo "no corpus at $CORPUS" >&2; exit 1; }
# -O2 like the daemon; the filter comes from the daemon's own library.
$CC -std=c17 -O2 -D_GNU_SOURCE -I"$ROOT/src/core" -I"$ROOT/src/filter" \
    -I"$ROOT/src/mime" -I"$ROOT/src/store" -I"$ROOT/src" \
    -o "$TMP/bench_spam" "$HERE/bench_spam.c" \
    "$BUILD/src/libmoatdaemon.a" "$BUILD/libmoatmime.a" \
    "$BUILD/libmoatstore.a" "$BUILD/libmoatcore.a" \
    -lsqlite3 -lcrypt -linih -lunbound -lpsl -luv -lssl -lcrypto -lpthread \
    -lz -lm

CUTOFF=$(awk '/p->spam_cutoff =/ {gsub(";", ""); print $3}' \
    "$ROOT/src/filter/bayes.c")
args=(--corpus "$CORPUS" --bench "$TMP/bench_spam" --cutoff "$CUTOFF")
[ "${BENCH_NO_BOGOFILTER:-0}" = 1 ] && args+=(--no-bogofilter)
[ "${BENCH_NO_ONLINE:-0}" = 1 ] && args+=(--no-online)
"$PYTHON" "$HERE/eval.py" "${args[@]}"
