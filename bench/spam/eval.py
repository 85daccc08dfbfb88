#!/usr/bin/python3
"""bench/spam/eval.py: the harness of bench/spam/run.sh.

Writes the fold and arrival-order lists from the corpus MANIFEST, runs
bench_spam (moat's filter, in C) and bogofilter on the same folds and the
same order, and prints FP/FN rates at each filter's default threshold, a
table by threshold, and the classification rate. Nothing leaves the
machine: bogofilter runs locally on a private database directory.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

RULES_TIMES = []

FOLDS = 5


def read_manifest(corpus):
    rows = []
    with open(os.path.join(corpus, "MANIFEST.tsv")) as f:
        next(f)
        for i, line in enumerate(f):
            label, path, _group, _size, _sha, date = line.rstrip("\n").split("\t")
            rows.append((i, label, os.path.join(corpus, path), date))
    return rows


def write_lists(rows, tmp):
    """Folds: within each class, the n-th message in MANIFEST order goes
    to fold n % 5 (stratified, deterministic). Online: arrival order by
    the MANIFEST's received date, ties in MANIFEST order."""
    seen = {"ham": 0, "spam": 0}
    cv = []
    for i, label, path, _date in rows:
        cv.append((seen[label] % FOLDS, label, path))
        seen[label] += 1
    online = sorted(rows, key=lambda r: (r[3], r[0]))
    cvp = os.path.join(tmp, "cv.list")
    onp = os.path.join(tmp, "online.list")
    with open(cvp, "w") as f:
        for fold, label, path in cv:
            f.write(f"{fold}\t{label}\t{path}\n")
    with open(onp, "w") as f:
        for _i, label, path, _d in online:
            f.write(f"0\t{label}\t{path}\n")
    return cv, [(0, r[1], r[2]) for r in online], cvp, onp


def run_moat(binary, mode, lst):
    out = subprocess.run([binary, mode, lst], check=True,
                         capture_output=True, text=True).stdout
    scores, times = [], []
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "score":
            scores.append((f[2], float(f[3])))
        elif f[0] == "time":
            times.append((int(f[2]), float(f[3]), float(f[4])))
        elif f[0] == "rules_time":
            RULES_TIMES.append((int(f[1]), float(f[2]), float(f[3])))
    return scores, times


def bogo(args, db, *rest, stdin=None):
    return subprocess.run(["bogofilter", "-d", db] + list(rest),
                          capture_output=True, text=True, input=stdin)


def bogo_train(db, spam, ham):
    # -B: the arguments are files; -s/-n register as spam/ham.
    for flag, files in (("-s", spam), ("-n", ham)):
        for i in range(0, len(files), 500):
            r = bogo(None, db, flag, "-B", *files[i:i + 500])
            if r.returncode not in (0, 1, 2):
                sys.exit("bogofilter training failed: " + r.stderr)


def bogo_score(db, files):
    """-T: terse "FILE S|H|U SCORE" per file."""
    res = {}
    for i in range(0, len(files), 500):
        r = bogo(None, db, "-T", "-B", *files[i:i + 500])
        if r.returncode == 3:
            sys.exit("bogofilter failed: " + r.stderr)
        for line in r.stdout.splitlines():
            path, verdict, score = line.rsplit(" ", 2)
            res[path] = (verdict, float(score))
    return res


def run_bogo_cv(cv, tmp):
    scores, cpu, wall, n = [], 0.0, 0.0, 0
    for k in range(FOLDS):
        db = os.path.join(tmp, f"bogo{k}")
        os.mkdir(db)
        train = [(l, p) for f, l, p in cv if f != k]
        bogo_train(db, [p for l, p in train if l == "spam"],
                   [p for l, p in train if l == "ham"])
        test = [(l, p) for f, l, p in cv if f == k]
        t0 = os.times()
        w0 = time.monotonic()
        res = bogo_score(db, [p for l, p in test])
        t1 = os.times()
        wall += time.monotonic() - w0
        cpu += (t1.children_user - t0.children_user +
                t1.children_system - t0.children_system)
        n += len(test)
        scores += [(l, res[p][1], res[p][0]) for l, p in test]
        shutil.rmtree(db)
    return scores, n, cpu, wall


def run_bogo_online(order, tmp):
    db = os.path.join(tmp, "bogo-online")
    os.mkdir(db)
    scores = []
    for _f, label, path in order:
        r = bogo(None, db, "-T", "-B", path)
        f = r.stdout.strip().rsplit(" ", 2)
        # An empty database (the first message) gives no verdict.
        verdict, score = (f[1], float(f[2])) if len(f) == 3 else ("U", 0.5)
        scores.append((label, score, verdict))
        bogo(None, db, "-s" if label == "spam" else "-n", "-B", path)
    shutil.rmtree(db)
    return scores


def rates(scores, cut):
    ham = [s for l, s, *_ in scores if l == "ham"]
    spam = [s for l, s, *_ in scores if l == "spam"]
    fp = sum(1 for s in ham if s >= cut)
    fn = sum(1 for s in spam if s < cut)
    return fp, len(ham), fn, len(spam)


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def table(title, moat, bog):
    print(f"\n{title}: by spam threshold (FP: ham >= t, FN: spam < t)")
    print(f"{'threshold':>9} {'moat FP%':>9} {'moat FN%':>9} "
          f"{'bogo FP%':>9} {'bogo FN%':>9}")
    for t in (0.2, 0.3, 0.4, 0.45, 0.5, 0.52, 0.55, 0.6, 0.7, 0.8, 0.9,
              0.95, 0.99, 0.999):
        mfp, nh, mfn, ns = rates(moat, t)
        line = f"{t:>9} {pct(mfp, nh):>9.2f} {pct(mfn, ns):>9.2f}"
        if bog:
            bfp, bh, bfn, bs = rates(bog, t)
            line += f" {pct(bfp, bh):>9.2f} {pct(bfn, bs):>9.2f}"
        print(line)


def summary(title, moat, mcut, bog):
    mfp, nh, mfn, ns = rates(moat, mcut)
    print(f"\n{title}: {nh} ham, {ns} spam")
    print(f"  moat       (spam >= {mcut}): FP {pct(mfp, nh):.2f}% ({mfp}) "
          f"FN {pct(mfn, ns):.2f}% ({mfn})")
    if not bog:
        return
    # bogofilter's own verdict: S is spam; U (unsure) and H are not.
    bfp = sum(1 for l, s, v in bog if l == "ham" and v == "S")
    bfn = sum(1 for l, s, v in bog if l == "spam" and v != "S")
    print(f"  bogofilter (its default, S verdict): FP {pct(bfp, nh):.2f}% "
          f"({bfp}) FN {pct(bfn, ns):.2f}% ({bfn})")
    print("  ratio bogofilter/moat: FP %s, FN %s (> 1: moat better)" % (
        f"{bfp / mfp:.2f}" if mfp else ("inf" if bfp else "="),
        f"{bfn / mfn:.2f}" if mfn else ("inf" if bfn else "=")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--cutoff", type=float, required=True)
    ap.add_argument("--no-bogofilter", action="store_true")
    ap.add_argument("--no-online", action="store_true")
    a = ap.parse_args()
    use_bogo = not a.no_bogofilter and shutil.which("bogofilter")
    if not a.no_bogofilter and not use_bogo:
        print("bogofilter not installed (scripts/deps.sh bench): moat only")
    tmp = tempfile.mkdtemp(prefix="moat-spam-bench.")
    try:
        rows = read_manifest(a.corpus)
        cv, order, cvp, onp = write_lists(rows, tmp)
        moat_cv, times = run_moat(a.bench, "cv", cvp)
        mscores = [(l, s) for l, s in moat_cv]
        bog_cv = None
        if use_bogo:
            bog_cv, bn, bcpu, bwall = run_bogo_cv(cv, tmp)
        summary("5-fold cross-validation", mscores, a.cutoff, bog_cv)
        table("5-fold cross-validation", mscores, bog_cv)
        n = sum(t[0] for t in times)
        cpu = sum(t[1] for t in times)
        wall = sum(t[2] for t in times)
        print(f"\nclassification, one process, test folds ({n} messages):")
        print(f"  moat:       {n / cpu:8.0f} msg/s per CPU second "
              f"({1e6 * cpu / n:.0f} us/msg), {n / wall:.0f} msg/s wall")
        for rn, rcpu, _ in RULES_TIMES:
            both = 1 / (cpu / n + rcpu / rn)
            print(f"  moat rules: {rn / rcpu:8.0f} msg/s per CPU second "
                  f"(header and link rules alone, {rn} messages); "
                  f"Bayes + rules, as the SMTP stage scores: {both:.0f} "
                  f"msg/s")
        if use_bogo:
            print(f"  bogofilter: {bn / bcpu:8.0f} msg/s per CPU second "
                  f"(-B batches of 500 files), {bn / bwall:.0f} msg/s wall")
        if not a.no_online:
            mon, otimes = run_moat(a.bench, "online", onp)
            bon = run_bogo_online(order, tmp) if use_bogo else None
            summary("TREC online (received-date order, score then learn)",
                    mon, a.cutoff, bon)
            table("TREC online", mon, bon)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
