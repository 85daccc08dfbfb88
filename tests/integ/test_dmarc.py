"""DMARC (RFC 7489) end to end with `moatctl dmarc check`: SPF records,
DKIM keys (made by `moatctl dkim keygen`, messages signed by `moatctl
dkim sign`) and _dmarc records served by tests/dns/dnsserver.py through
[dns] resolver. Pass through SPF only and DKIM only, relaxed and strict
alignment, fail with reject / quarantine / none, the subdomain policy,
pct=0, no record, several records, the null sender, several From fields.
ARC against dkimpy both ways: a chain dkimpy seals verifies with moatctl
(and fails when tampered with); a chain `moatctl dmarc arc-seal` makes
verifies with dkimpy, also on top of a dkimpy set."""
import re
import signal
import subprocess

import pytest

from conftest import MOATCTL, REPO

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"
GOOD_IP = "192.0.2.1"
BAD_IP = "198.51.100.7"

RECORD_RE = re.compile(
    r'^(\S+)\._domainkey\.(\S+)\. IN TXT((?: "[^"]*")+)( ; disabled)?$')


def message(from_hdr, extra=b""):
	return (b"From: " + from_hdr.encode() + b"\r\n"
	    b"To: Bob <bob@rcpt.example>\r\n"
	    b"Subject: DMARC test\r\n"
	    b"Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
	    b"Message-ID: <dmarc-1@sender.example>\r\n" + extra +
	    b"\r\n"
	    b"Hello Bob,\r\n"
	    b"  a body line\r\n")


def zone_txt(name, txt):
	parts = [txt[i:i + 255] for i in range(0, len(txt), 255)]
	return f"{name}. TXT " + " ".join(f'"{p}"' for p in parts) + "\n"


def keygen(srv, domain, selector):
	# dkimpy's ARC knows rsa-sha256 only: the sealer's key is RSA
	ed = [] if domain == "lists.example" else ["--ed25519"]
	out = srv.ctl("dkim", "keygen", domain, "--selector", selector,
	    *ed).stdout.strip()
	m = RECORD_RE.match(out)
	assert m, out
	return "".join(re.findall(r'"([^"]*)"', m.group(3)))


def rsa_keypair(tmp_path):
	key = tmp_path / "arc-rsa.pem"
	subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key),
	    "2048"], check=True, capture_output=True, timeout=60)
	der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True,
	    timeout=30).stdout
	import base64
	return key.read_bytes(), base64.b64encode(der).decode()


@pytest.fixture
def site(make_server, tmp_path):
	srv = make_server(provision=False, start=False)
	keys = {}
	for (d, s) in (("sender.example", "s1"), ("mail.sender.example", "s1"),
	    ("mail.strict.example", "s1"), ("lists.example", "arc")):
		keys[(d, s)] = keygen(srv, d, s)
	rsa_priv, rsa_pub = rsa_keypair(tmp_path)
	spf = f"v=spf1 ip4:{GOOD_IP} -all"
	z = "$TTL 60\n"
	for (d, s), rec in keys.items():
		z += zone_txt(f"{s}._domainkey.{d}", rec)
	z += zone_txt("arc._domainkey.fwd.example",
	    f"v=DKIM1; k=rsa; p={rsa_pub}")
	for d in ("sender.example", "bounce.sender.example",
	    "helo.sender.example", "strict.example", "bounce.strict.example",
	    "quar.example", "none.example", "org.example", "news.org.example",
	    "pct0.example", "nodmarc.example", "multi.example",
	    "tempfail.example"):
		z += zone_txt(d, spf)
	z += zone_txt("_dmarc.sender.example", "v=DMARC1; p=reject; "
	    "rua=mailto:dmarc@sender.example")
	z += zone_txt("_dmarc.strict.example",
	    "v=DMARC1; p=reject; adkim=s; aspf=s")
	z += zone_txt("_dmarc.quar.example", "v=DMARC1; p=quarantine")
	z += zone_txt("_dmarc.none.example", "v=DMARC1; p=none")
	z += zone_txt("_dmarc.org.example", "v=DMARC1; p=reject; sp=quarantine")
	z += zone_txt("_dmarc.pct0.example", "v=DMARC1; p=reject; pct=0")
	z += zone_txt("_dmarc.multi.example", "v=DMARC1; p=reject")
	z += zone_txt("_dmarc.multi.example", "v=DMARC1; p=none")
	z += "_dmarc.tempfail.example. SERVFAIL\n"
	zf = tmp_path / "dmarc.zone"
	zf.write_text(z)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zf)], stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], f"dnsserver did not start: {line}"
	srv.config["dns"] = {"resolver": f"127.0.0.1:{line[1]}",
	    "timeout": "2000"}
	srv.config["server"]["hostname"] = "mx.rcpt.example"
	srv.write_config()
	yield {"srv": srv, "rsa_priv": rsa_priv, "keys": keys,
	    "rsa_pub_rec": f"v=DKIM1; k=rsa; p={rsa_pub}".encode()}
	proc.send_signal(signal.SIGTERM)
	try:
		proc.wait(timeout=5)
	except subprocess.TimeoutExpired:
		proc.kill()
		proc.wait()


def run(cmd, stdin):
	r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)
	assert r.returncode == 0, r.stderr.decode()
	return r.stdout


def sign(site, msg, domain):
	srv = site["srv"]
	return run([str(MOATCTL), "-c", str(srv.conf), "dkim", "sign", "-",
	    "--domain", domain], msg)


def check(site, msg, mail_from, ip=GOOD_IP, helo="helo.sender.example"):
	srv = site["srv"]
	out = run([str(MOATCTL), "-c", str(srv.conf), "dmarc", "check", "-",
	    "--ip", ip, "--helo", helo, "--from", mail_from], msg)
	return out.decode().splitlines()


def dmarc_line(lines):
	return [ln for ln in lines if ln.startswith("dmarc ")][0]


def align_line(lines):
	return [ln for ln in lines if ln.startswith("alignment ")][0]


def test_pass_through_spf_only(site):
	msg = message("Alice <alice@sender.example>")
	out = check(site, msg, "alice@sender.example")
	assert out == ["spf pass sender.example",
	    "alignment spf=yes dkim=no",
	    "dmarc pass policy=reject disposition=none"], out
	# relaxed: a bounce subdomain aligns
	out = check(site, msg, "b@bounce.sender.example")
	assert out[0] == "spf pass bounce.sender.example"
	assert dmarc_line(out) == "dmarc pass policy=reject disposition=none"
	# strict: it does not
	out = check(site, message("a@strict.example"),
	    "b@bounce.strict.example")
	assert align_line(out) == "alignment spf=no dkim=no"
	assert dmarc_line(out) == "dmarc fail policy=reject disposition=reject"
	# the null sender: SPF of the HELO name, which aligns (relaxed)
	out = check(site, msg, "", helo="helo.sender.example")
	assert out[0] == "spf pass helo.sender.example"
	assert dmarc_line(out) == "dmarc pass policy=reject disposition=none"


def test_pass_through_dkim_only(site):
	msg = message("Alice <alice@sender.example>")
	signed = sign(site, msg, "sender.example")
	out = check(site, signed, "x@elsewhere.example", ip=BAD_IP)
	assert out == ["spf none elsewhere.example",
	    "dkim pass sender.example",
	    "alignment spf=no dkim=yes",
	    "dmarc pass policy=reject disposition=none"], out
	# relaxed: d=mail.sender.example for From sender.example
	signed = sign(site, msg, "mail.sender.example")
	out = check(site, signed, "x@sender.example", ip=BAD_IP)
	assert "spf fail sender.example" in out
	assert "dkim pass mail.sender.example" in out
	assert dmarc_line(out) == "dmarc pass policy=reject disposition=none"
	# strict: d=mail.strict.example does not align with strict.example
	signed = sign(site, message("a@strict.example"), "mail.strict.example")
	out = check(site, signed, "a@strict.example", ip=BAD_IP)
	assert "dkim pass mail.strict.example" in out
	assert dmarc_line(out) == "dmarc fail policy=reject disposition=reject"
	# a signature broken in transit does not count
	signed = sign(site, msg, "sender.example").replace(b"a body line",
	    b"a changed line")
	out = check(site, signed, "x@elsewhere.example", ip=BAD_IP)
	assert "dkim fail sender.example" in out
	assert dmarc_line(out) == "dmarc fail policy=reject disposition=reject"


@pytest.mark.parametrize("domain,want", [
    ("sender.example", "dmarc fail policy=reject disposition=reject"),
    ("quar.example", "dmarc fail policy=quarantine disposition=quarantine"),
    ("none.example", "dmarc fail policy=none disposition=none"),
    # sp= for a subdomain whose record is at the org domain
    ("news.org.example",
     "dmarc fail policy=quarantine disposition=quarantine"),
    ("org.example", "dmarc fail policy=reject disposition=reject"),
    # pct=0: never sampled, reject becomes quarantine (RFC 7489 6.6.4)
    ("pct0.example", "dmarc fail policy=reject disposition=quarantine"),
    ("nodmarc.example", "dmarc none policy=none disposition=none"),
    # several records: no DMARC (6.6.3 step 5)
    ("multi.example", "dmarc none policy=none disposition=none"),
    ("tempfail.example", "dmarc temperror policy=none disposition=none"),
])
def test_policies_on_fail(site, domain, want):
	out = check(site, message(f"a@{domain}"), f"a@{domain}", ip=BAD_IP)
	assert out[0] == f"spf fail {domain}"
	assert dmarc_line(out) == want, out


def test_from_rules(site):
	two = message("a@sender.example", b"From: b@sender.example\r\n")
	out = check(site, two, "a@sender.example")
	assert dmarc_line(out).startswith("dmarc permerror"), out
	mixed = message("a@sender.example, b@other.example")
	out = check(site, mixed, "a@sender.example")
	assert dmarc_line(out).startswith("dmarc permerror"), out
	same = message("a@sender.example, b@sender.example")
	out = check(site, same, "a@sender.example")
	assert dmarc_line(out) == "dmarc pass policy=reject disposition=none"
	# an LF-only file reads as CRLF
	out = check(site, message("a@sender.example").replace(b"\r\n", b"\n"),
	    "a@sender.example")
	assert dmarc_line(out) == "dmarc pass policy=reject disposition=none"


# ---- ARC against dkimpy ----------------------------------------------------

dkim = pytest.importorskip("dkim")


def dnsfunc_for(site):
	recs = {f"{s}._domainkey.{d}": rec.encode() for (d, s), rec in
	    site["keys"].items()}
	recs["arc._domainkey.fwd.example"] = site["rsa_pub_rec"]

	def dnsfunc(name, timeout=5):
		if isinstance(name, bytes):
			name = name.decode()
		return recs.get(name.rstrip("."))
	return dnsfunc


def dkimpy_seal(site, msg, cv=None):
	"""dkimpy seals as fwd.example (RSA): it copies its own
	Authentication-Results into the AAR and takes cv from arc=."""
	ar = b"Authentication-Results: fwd.example; spf=pass " \
	    b"smtp.mailfrom=sender.example"
	if cv is not None:
		ar += b"; arc=" + cv.encode()
	msg = ar + b"\r\n" + msg
	sig = dkim.arc_sign(msg, b"arc", b"fwd.example", site["rsa_priv"],
	    b"fwd.example", include_headers=[b"from", b"to", b"subject",
	    b"date", b"message-id"])
	return b"".join(sig) + msg


def moatctl_seal(site, msg):
	srv = site["srv"]
	return run([str(MOATCTL), "-c", str(srv.conf), "dmarc", "arc-seal",
	    "-", "--domain", "lists.example"], msg)


def arc_line(lines):
	got = [ln for ln in lines if ln.startswith("arc ")]
	return got[0] if got else None


def test_arc_dkimpy_seals_moatctl_verifies(site):
	msg = message("Alice <alice@sender.example>")
	sealed = dkimpy_seal(site, msg)
	assert b"ARC-Seal: i=1" in sealed
	out = check(site, sealed, "alice@sender.example")
	assert arc_line(out) == "arc pass", out
	# unsealed: no arc line at all
	assert arc_line(check(site, msg, "alice@sender.example")) is None
	for old, new in ((b"Subject: DMARC test", b"Subject: DMARC tost"),
	    (b"a body line", b"a changed line"),
	    (b"cv=none", b"cv=pass")):
		out = check(site, sealed.replace(old, new, 1),
		    "alice@sender.example")
		assert arc_line(out) == "arc fail", (old, out)


def test_arc_moatctl_seals_dkimpy_verifies(site):
	msg = message("Alice <alice@sender.example>")
	sealed = moatctl_seal(site, msg)
	assert sealed.endswith(msg)
	head = sealed[:len(sealed) - len(msg)]
	assert b"ARC-Seal: i=1;" in head and b"cv=none;" in head
	assert b"ARC-Authentication-Results: i=1; mx.rcpt.example" in head
	for line in head.split(b"\r\n"):
		assert len(line) <= 78, line
	cv, results, comment = dkim.arc_verify(sealed,
	    dnsfunc=dnsfunc_for(site))
	assert cv == dkim.CV_Pass, (cv, comment)
	assert arc_line(check(site, sealed, "alice@sender.example")) == \
	    "arc pass"
	bad = sealed.replace(b"a body line", b"a changed line")
	cv, results, comment = dkim.arc_verify(bad, dnsfunc=dnsfunc_for(site))
	assert cv == dkim.CV_Fail


def test_arc_two_hops_mixed(site):
	"""dkimpy seals first (i=1), moatctl verifies and seals i=2 with
	cv=pass; both moatctl and dkimpy verify the two-set chain."""
	msg = message("Alice <alice@sender.example>")
	one = dkimpy_seal(site, msg)
	two = moatctl_seal(site, one)
	assert b"ARC-Seal: i=2;" in two and b"cv=pass;" in two
	assert b"arc=pass (i=1)" in two		# our AAR records the chain
	assert arc_line(check(site, two, "alice@sender.example")) == "arc pass"
	cv, results, comment = dkim.arc_verify(two,
	    dnsfunc=dnsfunc_for(site))
	assert cv == dkim.CV_Pass, (cv, comment, results)
	# dkimpy seals again on top (i=3): moatctl still verifies
	three = dkimpy_seal(site, two, cv="pass")
	assert b"ARC-Seal: i=3;" in three
	assert arc_line(check(site, three, "alice@sender.example")) == \
	    "arc pass"
