#!/usr/bin/python3
"""bench/imap/imap_load.py - IMAP benchmark client (standard library only).

  imap_load.py ops  --port P --user U --password S --word W --manifest M
                    [--repeat R] [--bodies N] [--server-pid PID] [--label L] [--out FILE]
  imap_load.py idle --port P --count N --user-fmt 'idle%04d@example.test' --password S
                    [--per-user 20] [--per-ip 40] [--threads 16] [--hold SEC]

ops: one client, one operation at a time. Round 0 opens the mailbox for the
first time (the server builds its index) and times each step on its own;
rounds 1..R each open a fresh connection, LOGIN (not timed) and time
  select-fetch  SELECT INBOX + UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)
  search        SEARCH TEXT "<word>"
  bodies        UID FETCH <N UIDs spread over the mailbox> (BODY.PEEK[])
Every answer is checked against the generator's manifest (message count,
UIDs, RFC822.SIZE, INTERNALDATE, \\Seen, ENVELOPE, the SEARCH hits, each
body's literal size, and in round 0 the SHA-1 of every body with CRLF turned
back into LF). Server CPU is the utime+stime+cutime+cstime of the server's
process tree (from /proc) before and after each step; client CPU is this
process's own CPU time for the step. Writes one line per step to --out.

idle: opens N connections (bounded threads), each reads the greeting and
does LOGIN (user number i // per-user, source address 127.0.x.y changing
every per-ip connections, to stay under per-address and per-account
session limits), prints "READY <established>" and keeps them open until its
stdin is closed or --hold seconds pass.
"""
import argparse
import calendar
import hashlib
import os
import re
import select
import socket
import statistics
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
LIT_RE = re.compile(rb"\{(\d+)\+?\}$")


class ImapError(Exception):
    pass


class Conn:
    def __init__(self, port, host="127.0.0.1", src=None, timeout=120.0):
        self.s = socket.create_connection((host, port), timeout,
                                          source_address=(src, 0) if src else None)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.n = 0
        self.greeting = self.readline()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError("greeting: %r" % self.greeting[:200])

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise ImapError("connection closed by server")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += d

    def readline(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def readn(self, n):
        avail = len(self.buf) - self.pos
        if avail >= n:
            d = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n
            return d
        # A large literal: receive straight into its own buffer.
        out = bytearray(n)
        mv = memoryview(out)
        mv[:avail] = self.buf[self.pos:]
        del self.buf[:]
        self.pos = 0
        got = avail
        while got < n:
            r = self.s.recv_into(mv[got:], n - got)
            if r == 0:
                raise ImapError("connection closed by server")
            got += r
        return out

    def command(self, cmd):
        """Send one command; return (status line, [(line, [literals])]).
        A "line" is one response with each literal replaced by {n}."""
        self.n += 1
        tag = b"A%04d" % self.n
        self.s.sendall(tag + b" " + cmd.encode() + b"\r\n")
        out = []
        while True:
            line = self.readline()
            lits = []
            m = LIT_RE.search(line)
            while m:
                lits.append(self.readn(int(m.group(1))))
                line += b"\x00" + self.readline()
                m = LIT_RE.search(line)
            if line.startswith(tag + b" "):
                st = line[len(tag) + 1:]
                if not st.startswith(b"OK"):
                    raise ImapError("%s -> %r" % (cmd[:60], st[:300]))
                return st, out
            out.append((line, lits))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def login(port, user, password, src=None, timeout=120.0):
    c = Conn(port, src=src, timeout=timeout)
    c.command('LOGIN "%s" "%s"' % (user, password))
    return c


# ---- server CPU from /proc ------------------------------------------------
def tree_ticks(root):
    if not root:
        return 0
    kids, stat = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(b")") + 2:].split()
        pid = int(d)
        stat[pid] = rest
        kids.setdefault(int(rest[1]), []).append(pid)
    total, queue, seen = 0, [root], 0
    while queue and seen < 200000:
        seen += 1
        p = queue.pop()
        r = stat.get(p)
        if r is None:
            continue
        total += int(r[11]) + int(r[12]) + int(r[13]) + int(r[14])
        queue.extend(kids.get(p, []))
    return total


class Step:
    """Wall time, server tree CPU and own CPU around one step."""

    def __init__(self, server_pid):
        self.pid = server_pid

    def __enter__(self):
        self.c0 = tree_ticks(self.pid)
        self.p0 = time.process_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = (time.perf_counter() - self.t0) * 1000.0
        self.client = (time.process_time() - self.p0) * 1000.0
        time.sleep(0.05)  # let the server's accounting catch up
        self.server = (tree_ticks(self.pid) - self.c0) * 1000.0 / CLK_TCK
        return False


# ---- checks ------------------------------------------------------------------
def load_manifest(path):
    man = []
    with open(path) as f:
        for ln in f:
            uid, name, size, word, mtime, sha = ln.rstrip("\n").split("\t")
            man.append({"uid": int(uid), "name": name, "size": int(size), "word": word == "1",
                        "mtime": int(mtime), "sha": sha, "seen": "S" in name.split(":2,")[1]})
    return man


FETCH_RE = re.compile(rb"^\* (\d+) FETCH \(")
UID_RE = re.compile(rb"\bUID (\d+)")
SIZE_RE = re.compile(rb"\bRFC822\.SIZE (\d+)")
IDATE_RE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
FLAGS_RE = re.compile(rb"\bFLAGS \(([^)]*)\)")
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def idate_epoch(s):
    # "dd-Mon-yyyy hh:mm:ss +zzzz", day may be space-padded
    d, t, z = s.decode().strip().split(" ")
    dd, mon, yy = d.split("-")
    hh, mi, ss = (int(x) for x in t.split(":"))
    off = (int(z[1:3]) * 3600 + int(z[3:5]) * 60) * (1 if z[0] == "+" else -1)
    return calendar.timegm((int(yy), MONTHS[mon], int(dd), hh, mi, ss)) - off


def check_list(resp, man):
    errs = []
    by_uid = {m["uid"]: m for m in man}
    n = 0
    for line, _lits in resp:
        if not FETCH_RE.match(line):
            continue
        n += 1
        u = UID_RE.search(line)
        m = by_uid.get(int(u.group(1))) if u else None
        if m is None:
            errs.append("unknown UID in %r" % line[:80])
            continue
        sz = SIZE_RE.search(line)
        if not sz or int(sz.group(1)) != m["size"]:
            errs.append("UID %d: RFC822.SIZE %s, expected %d" % (m["uid"], sz and sz.group(1), m["size"]))
        idt = IDATE_RE.search(line)
        if not idt or abs(idate_epoch(idt.group(1)) - m["mtime"]) > 1:
            errs.append("UID %d: INTERNALDATE %s, expected epoch %d" % (m["uid"], idt and idt.group(1), m["mtime"]))
        fl = FLAGS_RE.search(line)
        if not fl or ((b"\\Seen" in fl.group(1)) != m["seen"]):
            errs.append("UID %d: FLAGS %s" % (m["uid"], fl and fl.group(1)))
        if b"ENVELOPE (" not in line or b'"demo" "example.test"' not in line:
            errs.append("UID %d: no/odd ENVELOPE" % m["uid"])
    if n != len(man):
        errs.append("%d FETCH responses, expected %d" % (n, len(man)))
    return errs


def check_search(resp, man):
    got = set()
    for line, _ in resp:
        if line.startswith(b"* SEARCH"):
            got.update(int(x) for x in line[8:].split())
    want = {m["uid"] for m in man if m["word"]}  # seq == UID: nothing expunged
    if got != want:
        return ["SEARCH: %d hits, expected %d (missing %s, extra %s)" % (
            len(got), len(want), sorted(want - got)[:5], sorted(got - want)[:5])], len(got)
    return [], len(got)


def check_bodies(resp, man, uids, sha):
    errs, n, nbytes = [], 0, 0
    by_uid = {m["uid"]: m for m in man}
    for line, lits in resp:
        if not FETCH_RE.match(line):
            continue
        n += 1
        u = UID_RE.search(line)
        m = by_uid.get(int(u.group(1))) if u else None
        if m is None or not lits:
            errs.append("odd body response %r" % line[:80])
            continue
        body = lits[-1]
        nbytes += len(body)
        if len(body) != m["size"]:
            errs.append("UID %d: body %d octets, expected %d" % (m["uid"], len(body), m["size"]))
        elif sha and hashlib.sha1(body.replace(b"\r\n", b"\n")).hexdigest() != m["sha"]:
            errs.append("UID %d: body differs from the file" % m["uid"])
    if n != len(uids):
        errs.append("%d bodies, expected %d" % (n, len(uids)))
    return errs, nbytes


def uid_set(uids):
    return ",".join(str(u) for u in uids)


def ops(a):
    man = load_manifest(a.manifest)
    nmsg = len(man)
    nb = min(a.bodies, nmsg)
    step = nmsg / nb
    body_uids = sorted({man[int(i * step)]["uid"] for i in range(nb)})
    fetch_cmd = "UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"
    search_cmd = 'SEARCH TEXT "%s"' % a.word
    body_cmd = "UID FETCH %s (BODY.PEEK[])" % uid_set(body_uids)
    out = open(a.out, "a") if a.out else sys.stdout
    rows = {}
    all_errs = []

    def rec(name, s):
        rows.setdefault(name, []).append((s.wall, s.server, s.client))

    def note(errs, what):
        for e in errs[:5]:
            print("[imap_load] %s %s: %s" % (a.label, what, e), file=sys.stderr)
        if errs:
            all_errs.append(what)

    total_bytes = nbytes = 0
    for rnd in range(a.repeat + 1):
        c = login(a.port, a.user, a.password, timeout=a.timeout)
        if rnd == 0:
            with Step(a.server_pid) as s:
                st, r = c.command("SELECT INBOX")
            rec("first-select", s)
            ex = [ln for ln, _ in r if ln.endswith(b" EXISTS")]
            if not ex or int(ex[0].split()[1]) != nmsg:
                note(["SELECT says %s, expected %d EXISTS" % (ex, nmsg)], "first-select")
            with Step(a.server_pid) as s:
                st, r = c.command(fetch_cmd)
            rec("first-fetch", s)
            note(check_list(r, man), "first-fetch")
            total_bytes = sum(int(SIZE_RE.search(ln).group(1)) for ln, _ in r
                              if FETCH_RE.match(ln) and SIZE_RE.search(ln))
            with Step(a.server_pid) as s:
                st, r = c.command(search_cmd)
            rec("first-search", s)
            errs, hits = check_search(r, man)
            note(errs, "first-search")
            with Step(a.server_pid) as s:
                st, r = c.command(body_cmd)
            rec("first-bodies", s)
            errs, nbytes = check_bodies(r, man, body_uids, sha=True)
            note(errs, "first-bodies")
        else:
            with Step(a.server_pid) as s:
                c.command("SELECT INBOX")
                st, r = c.command(fetch_cmd)
            rec("select-fetch", s)
            note(check_list(r, man), "select-fetch#%d" % rnd)
            with Step(a.server_pid) as s:
                st, r = c.command(search_cmd)
            rec("search", s)
            note(check_search(r, man)[0], "search#%d" % rnd)
            with Step(a.server_pid) as s:
                st, r = c.command(body_cmd)
            rec("bodies", s)
            note(check_bodies(r, man, body_uids, sha=False)[0], "bodies#%d" % rnd)
        try:
            c.command("LOGOUT")
        except ImapError:
            pass
        c.close()
    ok = 0 if all_errs else 1
    for name, v in rows.items():
        print("op %s %s %d %.1f %.1f %.1f %d" % (
            a.label, name, len(v), statistics.median(x[0] for x in v),
            statistics.median(x[1] for x in v), statistics.median(x[2] for x in v), ok), file=out)
        print("[imap_load] %s %-13s wall ms %s | server CPU ms %s | client CPU ms %s" % (
            a.label, name, " ".join("%.0f" % x[0] for x in v), " ".join("%.0f" % x[1] for x in v),
            " ".join("%.0f" % x[2] for x in v)), file=sys.stderr)
    print("check %s %d %d %d %d %d %d" % (a.label, nmsg, total_bytes, hits,
                                          sum(m["word"] for m in man), len(body_uids), nbytes), file=out)
    if all_errs:
        print("[imap_load] %s: CHECKS FAILED in %s" % (a.label, ", ".join(all_errs)), file=sys.stderr)
    return 0 if ok else 2


# ---- idle ----------------------------------------------------------------------
def idle(a):
    conns = [None] * a.count
    errs = []
    lock = threading.Lock()

    def src_of(i):
        k = i // a.per_ip
        return "127.0.%d.%d" % (k // 250, 2 + k % 250)

    def work(t):
        for i in range(t, a.count, a.threads):
            try:
                conns[i] = login(a.port, a.user_fmt % (i // a.per_user), a.password,
                                 src=src_of(i), timeout=a.timeout)
            except (OSError, ImapError) as e:
                with lock:
                    errs.append("conn %d (%s): %s" % (i, src_of(i), e))
                    if len(errs) > 50:
                        return

    th = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(min(a.threads, a.count))]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join(a.hold)
    n = sum(1 for c in conns if c is not None)
    for e in errs[:5]:
        print("[imap_load] idle: %s" % e, file=sys.stderr)
    print("[imap_load] idle: %d of %d logged in in %.1f s" % (n, a.count, time.time() - t0), file=sys.stderr)
    print("READY %d" % n, flush=True)
    # Hold until stdin is closed (EOF) or --hold passes.
    deadline = time.time() + a.hold
    while time.time() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 1.0)
        if r and not os.read(sys.stdin.fileno(), 4096):
            break
    alive = 0
    for c in conns:
        if c is not None:
            # still open from the server side?
            try:
                c.s.setblocking(False)
                alive += 0 if c.s.recv(1, socket.MSG_PEEK) == b"" else 1
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
            c.close()
    print("[imap_load] idle: %d still open at the end" % alive, file=sys.stderr)
    print("ALIVE %d" % alive, flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    o = sub.add_parser("ops")
    o.add_argument("--port", type=int, required=True)
    o.add_argument("--user", required=True)
    o.add_argument("--password", required=True)
    o.add_argument("--word", required=True)
    o.add_argument("--manifest", required=True)
    o.add_argument("--repeat", type=int, default=5)
    o.add_argument("--bodies", type=int, default=1000)
    o.add_argument("--server-pid", type=int, default=0)
    o.add_argument("--label", default="server")
    o.add_argument("--out", default="")
    o.add_argument("--timeout", type=float, default=300.0)
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--count", type=int, required=True)
    i.add_argument("--user-fmt", required=True)
    i.add_argument("--password", required=True)
    i.add_argument("--per-user", type=int, default=20)
    i.add_argument("--per-ip", type=int, default=40)
    i.add_argument("--threads", type=int, default=16)
    i.add_argument("--hold", type=float, default=600.0)
    i.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    if a.mode == "ops":
        if not (0 <= a.repeat <= 100 and 1 <= a.bodies <= 100000):
            p.error("bad --repeat/--bodies")
        return ops(a)
    if not (1 <= a.count <= 100000 and 1 <= a.threads <= 256 and a.per_ip >= 1 and a.per_user >= 1):
        p.error("bad idle arguments")
    return idle(a)


if __name__ == "__main__":
    sys.exit(main())
