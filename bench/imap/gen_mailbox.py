#!/usr/bin/python3
"""bench/imap/gen_mailbox.py - write a reproducible test Maildir for the IMAP benchmark.

    gen_mailbox.py DIR COUNT WORD [SEED]

Creates DIR/cur/ with COUNT RFC 5322 messages (LF line ends, as Maildir
delivery agents write them) named "T.M<usec>P<n>Q<i>.bench:2,<flags>", T
increasing with the message number so every server hands out UIDs in the
same order; each file's mtime is T (= INTERNALDATE) and its Date: header
says the same. Sizes are spread over 1-50 KB: plain text, multipart/
alternative (text + HTML) and multipart/mixed with a base64 attachment.
About 1 % of the messages carry WORD in a text/plain body (never in a
header, never encoded), the rest never contain it.

Also writes DIR/manifest.tsv, one line per message in UID order:
    uid  file  rfc822_size(CRLF)  has_word(0/1)  mtime  sha1(file bytes)
Standard library only; deterministic for a given SEED.
"""
import hashlib
import os
import random
import sys
import time

WORDS = ("the of and to in is that for it as was with be by on not he this "
         "are or his from at which but have an they you were her she there "
         "would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could "
         "time these two may then do first any my now such like our over "
         "man me even most made after also did many before must through "
         "back years where much your way well down should because each just "
         "those people how too little state good very make world still own "
         "see men work long get here between both life being under never "
         "day same another know while last might us great old year off come "
         "since against go came right used take three invoice meeting report "
         "budget project deadline server release quarterly schedule agenda "
         "proposal review contract shipment delivery ticket update customer "
         "account payment reminder summary minutes draft final").split()
FIRST = ("Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj "
         "Olivia Peggy Rupert Sybil Trent Victor Walter Zoe Jürgen Zoë").split()
LAST = ("Smith Jones Miller Garcia Brown Davis Wilson Moore Taylor Anderson "
        "Thomas Jackson White Harris Martin Thompson Müller Nakamura").split()
DOMAINS = ("example.org example.net example.com mail.example.org "
           "lists.example.net corp.example.com").split()
SUBJ = ("Re: {w} {w} {w}", "{W} {w} for {w}", "Fwd: {W} {w}", "[{w}-list] {W} {w} {w}",
        "{W} {w} {w} {w} {w}", "Your {w} #{n}", "=?UTF-8?B?{b64}?=", "Re: Re: {W}")
ATTACH = (("application/pdf", "report.pdf"), ("image/png", "photo.png"),
          ("application/zip", "archive.zip"), ("application/octet-stream", "data.bin"))


def rfcdate(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def text(rng, nbytes, word=None):
    """Lines of words (<= 76 chars) adding up to about nbytes."""
    lines, total, line = [], 0, []
    llen = 0
    pos = rng.randrange(max(1, nbytes // 40)) if word else -1
    while total < nbytes:
        w = rng.choice(WORDS)
        if pos == 0:
            w = word
        pos -= 1
        if llen + len(w) + 1 > 72:
            s = " ".join(line)
            lines.append(s)
            total += len(s) + 1
            line, llen = [], 0
            if rng.random() < 0.08:
                lines.append("")
                total += 1
        line.append(w)
        llen += len(w) + 1
    if line:
        lines.append(" ".join(line))
    if word and word not in "\n".join(lines):
        lines.append(word)
    return "\n".join(lines) + "\n"


def b64lines(data):
    import base64
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"


def subject(rng, n):
    import base64
    f = rng.choice(SUBJ)
    u = "Größe der Lieferung Nr. %d" % n
    return f.format(w=rng.choice(WORDS), W=rng.choice(WORDS).capitalize(), n=n,
                    b64=base64.b64encode(u.encode()).decode())


def message(rng, i, t, target, word):
    fn, ln = rng.choice(FIRST), rng.choice(LAST)
    addr = "%s.%s@%s" % (fn.lower(), ln.lower(), rng.choice(DOMAINS))
    addr = addr.encode("ascii", "ignore").decode()
    name = "%s %s" % (fn, ln)
    if any(ord(c) > 127 for c in name):
        import base64
        name = "=?UTF-8?B?%s?=" % base64.b64encode(name.encode()).decode()
    h = [
        "Return-Path: <%s>" % addr,
        "Received: from mx.example.org (mx.example.org [192.0.2.%d])\n\tby bench.example.test "
        "with ESMTPS id %08X\n\tfor <demo@example.test>; %s" % (i % 250 + 1, i, rfcdate(t)),
        "From: %s <%s>" % (name, addr),
        "To: Demo User <demo@example.test>",
    ]
    if rng.random() < 0.3:
        h.append("Cc: %s <%s@example.net>" % (rng.choice(FIRST), rng.choice(WORDS)))
    h += [
        "Subject: %s" % subject(rng, i),
        "Date: %s" % rfcdate(t),
        "Message-ID: <%d.%08x@%s>" % (t, rng.getrandbits(32), rng.choice(DOMAINS)),
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.2:
        h.append("In-Reply-To: <%d.%08x@example.org>" % (t - 3600, rng.getrandbits(32)))
    kind = rng.random()
    hdr_len = sum(len(x) + 1 for x in h)
    body_len = max(200, target - hdr_len - 200)
    if kind < 0.6:
        h.append("Content-Type: text/plain; charset=utf-8")
        h.append("Content-Transfer-Encoding: 7bit")
        body = text(rng, body_len, word)
    elif kind < 0.75:
        b = "=_alt_%08x" % rng.getrandbits(32)
        h.append('Content-Type: multipart/alternative; boundary="%s"' % b)
        tl = body_len // 3
        t1 = text(rng, tl, word)
        html = "<html><body>\n" + "".join("<p>%s</p>\n" % ln for ln in
                                           text(rng, body_len - tl - 300).split("\n") if ln) + "</body></html>\n"
        body = ("This is a multi-part message in MIME format.\n\n--%s\n"
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s--\n") % (b, t1, b, html, b)
    else:
        b = "=_mix_%08x" % rng.getrandbits(32)
        h.append('Content-Type: multipart/mixed; boundary="%s"' % b)
        tl = min(body_len // 4 + 100, 4000)
        t1 = text(rng, tl, word)
        ctype, fname = rng.choice(ATTACH)
        raw = max(100, (body_len - tl - 400) * 3 // 4)
        att = b64lines(rng.randbytes(raw))
        body = ("This is a multi-part message in MIME format.\n\n--%s\n"
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"
                "--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\n"
                "Content-Transfer-Encoding: base64\n\n%s\n--%s--\n") % (b, t1, b, ctype, fname, fname, att, b)
    return "\n".join(h) + "\n\n" + body


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, count, word = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
    assert 1 <= count <= 1000000 and word.isalpha() and word.lower() not in WORDS
    rng = random.Random(seed)
    cur = os.path.join(out, "cur")
    os.makedirs(cur, exist_ok=True)
    for sub in ("new", "tmp"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    # About 1 % with the word (at least one), chosen at random.
    nword = max(1, count // 100)
    with_word = set(rng.sample(range(count), nword))
    t0 = int(time.time()) - count * 120 - 86400
    man = []
    for i in range(count):
        t = t0 + i * 120 + rng.randrange(60)
        target = rng.randint(1024, 50 * 1024)
        msg = message(rng, i + 1, t, target, word if i in with_word else None).encode()
        r = rng.random()
        flags = "S" if r < 0.70 else "FS" if r < 0.75 else "RS" if r < 0.78 else ""
        fname = "%d.M%06dP%dQ%d.bench:2,%s" % (t, rng.randrange(1000000), 4000 + i % 30000, i + 1, flags)
        path = os.path.join(cur, fname)
        with open(path, "wb") as f:
            f.write(msg)
        os.utime(path, (t, t))
        crlf = len(msg) + msg.count(b"\n") - msg.count(b"\r\n")
        assert (word.encode() in msg) == (i in with_word)
        man.append("%d\t%s\t%d\t%d\t%d\t%s" % (i + 1, fname, crlf, 1 if i in with_word else 0, t,
                                              hashlib.sha1(msg).hexdigest()))
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("\n".join(man) + "\n")
    tot = sum(int(x.split("\t")[2]) for x in man)
    print("generated %d messages, %d with '%s', %.1f MB (CRLF)" % (count, nword, word, tot / 1e6))


if __name__ == "__main__":
    main()
