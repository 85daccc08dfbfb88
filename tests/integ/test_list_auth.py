"""What a mailing list does to a post's authentication, end to end over
SMTP: an outside author whose domain publishes DMARC p=reject (served by
tests/dns/dnsserver.py, with the author's DKIM key) posts, DKIM-signed
by dkimpy, to a list of ours; every member's Maildir copy has lost the
author's signature (our Authentication-Results still records it), has
From rewritten to "Name via List" <list> with Reply-To the author and
X-Original-From, and carries a DKIM signature and an ARC set of the list
domain that dkimpy verifies against the record `moatctl dkim keygen`
printed. A post from a p=none domain keeps its From. A list that sets
Reply-To to itself gets the author in Cc instead (Mailman's choice)."""
import base64
import email
import email.header
import email.utils
import re
import signal
import smtplib
import subprocess

import dkim
import pytest

from conftest import DEMO, HOSTNAME, OUTSIDE, REPO

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"
LIST = "team@example.test"
CAROL = "carol@example.test"
RECORD_RE = re.compile(
    r'^(\S+)\._domainkey\.(\S+)\. IN TXT((?: "[^"]*")+)( ; disabled)?$')


def zone_txt(name, txt):
	parts = [txt[i:i + 255] for i in range(0, len(txt), 255)]
	return f"{name}. TXT " + " ".join(f'"{p}"' for p in parts) + "\n"


def author_key(tmp_path):
	"""The outside author's RSA key (made here: the server never sees
	it), as PEM and as a DKIM key record."""
	key = tmp_path / "author.pem"
	subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key),
	    "2048"], check=True, capture_output=True, timeout=60)
	der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True,
	    timeout=30).stdout
	return key.read_bytes(), \
	    f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


@pytest.fixture
def site(make_server, tmp_path):
	priv, rec = author_key(tmp_path)
	z = "$TTL 60\n"
	for d in ("strict.example", "relaxed.example"):
		z += zone_txt(d, "v=spf1 ip4:127.0.0.2 -all")
		z += zone_txt(f"a1._domainkey.{d}", rec)
	z += zone_txt("_dmarc.strict.example", "v=DMARC1; p=reject")
	z += zone_txt("_dmarc.relaxed.example", "v=DMARC1; p=none")
	zf = tmp_path / "list.zone"
	zf.write_text(z)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zf)], stdout=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], f"dnsserver did not start: {line}"
	srv = make_server(overrides={
	    "dns": {"resolver": f"127.0.0.1:{line[1]}", "timeout": "2000"},
	    "authn": {"spf": "yes", "dkim_verify": "yes", "dmarc": "yes",
	    "arc": "yes"}})
	srv.add_account(CAROL, "carol-password-1")
	out = srv.ctl("dkim", "keygen", "example.test", "--selector",
	    "lst").stdout.strip()
	m = RECORD_RE.match(out)
	assert m, out
	list_rec = "".join(re.findall(r'"([^"]*)"', m.group(3))).encode()
	srv.ctl("list", "add", LIST, "--name", "Team", "--post", "anyone",
	    "--reply-to", "none", "--prefix", "")
	srv.ctl("list", "member", "add", LIST, DEMO, CAROL)
	yield {"srv": srv, "priv": priv, "author_rec": rec.encode(),
	    "list_rec": list_rec}
	proc.send_signal(signal.SIGTERM)
	proc.wait(timeout=5)


def dnsfunc_for(site):
	recs = {"lst._domainkey.example.test": site["list_rec"],
	    "a1._domainkey.strict.example": site["author_rec"],
	    "a1._domainkey.relaxed.example": site["author_rec"]}

	def dnsfunc(name, timeout=5):
		if isinstance(name, bytes):
			name = name.decode()
		return recs.get(name.rstrip("."))
	return dnsfunc


def post(site, author, from_hdr, subject="hello list"):
	"""Send a post signed by the author's domain from outside; return
	each member's copy (raw bytes)."""
	domain = author.split("@")[1]
	msg = (f"From: {from_hdr}\r\n"
	    f"To: {LIST}\r\n"
	    f"Subject: {subject}\r\n"
	    "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
	    f"Message-ID: <{subject.replace(' ', '-')}@{domain}>\r\n"
	    "\r\n"
	    "Hello everyone,\r\n"
	    "a line of the post\r\n").encode()
	sig = dkim.sign(msg, b"a1", domain.encode(), site["priv"],
	    include_headers=[b"from", b"to", b"subject", b"date",
	    b"message-id"])
	# the signature is good as it arrives (so DMARC passes at SMTP)
	assert dkim.verify(sig + msg, dnsfunc=dnsfunc_for(site))
	srv = site["srv"]
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
	    source_address=(OUTSIDE, 0)) as s:
		assert s.sendmail(author, [LIST], sig + msg) == {}
	return [srv.wait_delivered(1, user=u, timeout=20)[0]
	    for u in (DEMO, CAROL)]


def dkim_sigs(raw):
	m = email.message_from_bytes(raw)
	return [" ".join(v.split()) for v in m.get_all("DKIM-Signature", [])]


def check_list_signed(site, raw, author_domain):
	"""One DKIM signature, the list domain's, valid; the author's gone;
	an ARC set of the list domain that verifies."""
	sigs = dkim_sigs(raw)
	assert len(sigs) == 1, sigs
	assert re.search(r"(^|;) ?d=example\.test;", sigs[0]), sigs[0]
	d = dkim.DKIM(raw)
	assert d.verify(idx=0, dnsfunc=dnsfunc_for(site)), raw[:2000]
	cv, results, reason = dkim.arc_verify(raw, dnsfunc=dnsfunc_for(site))
	assert cv == dkim.CV_Pass, (cv, results, reason)
	m = email.message_from_bytes(raw)
	seal = " ".join(m["ARC-Seal"].split())
	assert "i=1;" in seal and "cv=none" in seal and "d=example.test" in seal
	# our result from reception is kept (the author's signature passed)
	ar = [" ".join(v.split()) for v in m.get_all("Authentication-Results")
	    if v.strip().startswith(HOSTNAME)]
	assert len(ar) == 1, ar
	assert re.search(r"dkim=pass \([^)]*\) header\.d=" +
	    re.escape(author_domain) + " ", ar[0]), ar[0]
	assert f"header.from={author_domain}" in ar[0], ar[0]


def test_reject_domain_from_is_rewritten_and_list_signs(site):
	copies = post(site, "alice@strict.example",
	    "Alice Author <alice@strict.example>")
	for raw in copies:
		m = email.message_from_bytes(raw)
		assert m.get_all("From") == \
		    ['"Alice Author via Team" <team@example.test>'], m["From"]
		assert m["Reply-To"] == "Alice Author <alice@strict.example>"
		assert m["X-Original-From"] == \
		    "Alice Author <alice@strict.example>"
		check_list_signed(site, raw, "strict.example")
		assert m["List-Id"] is not None
		assert "a line of the post" in m.get_payload()


def test_none_domain_keeps_from(site):
	copies = post(site, "bob@relaxed.example",
	    "Bob <bob@relaxed.example>", subject="from a p=none domain")
	for raw in copies:
		m = email.message_from_bytes(raw)
		assert m.get_all("From") == ["Bob <bob@relaxed.example>"]
		assert m["X-Original-From"] is None
		assert m["Reply-To"] is None
		check_list_signed(site, raw, "relaxed.example")


def test_non_ascii_name_and_reply_to_list(site):
	"""A list whose Reply-To is itself: the author goes to Cc. A Latin-1
	encoded name comes out as UTF-8 encoded-words."""
	srv = site["srv"]
	srv.ctl("list", "set", LIST, "reply_to=list")
	copies = post(site, "jorg@strict.example",
	    "=?ISO-8859-1?Q?J=F6rg_M=FCller?= <jorg@strict.example>",
	    subject="umlauts")
	for raw in copies:
		m = email.message_from_bytes(raw)
		name, addr = email.utils.parseaddr(str(email.header.make_header(
		    email.header.decode_header(m["From"]))))
		assert (name, addr) == ("J\u00f6rg M\u00fcller via Team", LIST)
		assert "=?UTF-8?Q?" in m["From"]
		assert LIST in m["Reply-To"]
		assert "jorg@strict.example" in m["Cc"]
		check_list_signed(site, raw, "strict.example")
