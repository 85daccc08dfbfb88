"""Mail from a local domain leaves DKIM-signed: every enabled key of the
From: domain signs (RSA and Ed25519 give two signatures), and the copy
that arrives at the other server verifies with dkimpy (an independent
implementation) against the records `moatctl dkim show` prints. Keys
made while the server runs sign from the next message on."""
import email
import re
import smtplib

import dkim

from conftest import BOB, DEMO


def records(srv):
	"""'sel._domainkey.dom.' -> record text, from moatctl dkim show."""
	out = {}
	for line in srv.ctl("dkim", "show").stdout.splitlines():
		m = re.match(r'(\S+)\s+IN\s+TXT\s+(.*)$', line)
		if m:
			parts = re.findall(r'"([^"]*)"', m.group(2))
			out[m.group(1)] = "".join(parts).encode()
	return out


def send_to_bob(a, subject):
	msg = (f"From: {DEMO}\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
	    "\r\nsigned on the way out\r\n")
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10) as s:
		assert s.sendmail(DEMO, [BOB], msg) == {}


def test_outbound_mail_is_signed_with_every_key(make_pair):
	a, b = make_pair()
	a.ctl("dkim", "keygen", "example.test", "--selector", "rsa1")
	a.ctl("dkim", "keygen", "example.test", "--selector", "ed1",
	    "--ed25519")
	recs = records(a)
	assert set(recs) == {"rsa1._domainkey.example.test.",
	    "ed1._domainkey.example.test."}
	send_to_bob(a, "signed")
	got = b.wait_delivered(1, user=BOB, timeout=15)
	assert len(got) == 1
	raw = got[0]
	m = email.message_from_bytes(raw)
	sigs = m.get_all("DKIM-Signature")
	assert len(sigs) == 2
	algos = sorted(re.search(r"a=([\w-]+)", s).group(1) for s in sigs)
	assert algos == ["ed25519-sha256", "rsa-sha256"]

	def dnsfunc(name, timeout=5):
		return recs.get(name.decode() if isinstance(name, bytes) else
		    name, b"")

	# dkimpy checks one signature per call (idx); both must verify.
	d = dkim.DKIM(raw)
	for idx in range(2):
		assert d.verify(idx=idx, dnsfunc=dnsfunc), f"signature {idx}"
	tampered = raw.replace(b"signed on the way out", b"changed")
	try:
		ok = dkim.DKIM(tampered).verify(idx=0, dnsfunc=dnsfunc)
	except dkim.ValidationError:
		ok = False	# dkimpy raises on a body hash mismatch
	assert not ok


def test_disabled_key_stops_signing(make_pair):
	a, b = make_pair()
	a.ctl("dkim", "keygen", "example.test", "--selector", "k1")
	a.ctl("dkim", "disable", "example.test", "k1")
	send_to_bob(a, "unsigned")
	got = b.wait_delivered(1, user=BOB, timeout=15)
	assert email.message_from_bytes(got[0]).get_all("DKIM-Signature") \
	    is None


def test_forwarded_mail_is_arc_sealed(make_pair):
	"""An alias of ours that forwards to another server seals the message
	with an ARC set of the alias domain (RFC 8617), which dkimpy verifies
	at the receiving end."""
	a, b = make_pair()
	a.ctl("dkim", "keygen", "example.test", "--selector", "arc1")
	a.ctl("alias", "add", "fwd@example.test", BOB)
	recs = records(a)
	msg = (b"From: someone@elsewhere.example\r\nTo: fwd@example.test\r\n"
	    b"Subject: forwarded\r\n\r\nforwarded body\r\n")
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10) as s:
		assert s.sendmail("someone@elsewhere.example",
		    ["fwd@example.test"], msg) == {}
	raw = b.wait_delivered(1, user=BOB, timeout=15)[0]
	m = email.message_from_bytes(raw)
	assert m["ARC-Seal"] is not None and "i=1" in m["ARC-Seal"]
	assert "cv=none" in m["ARC-Seal"]
	assert m["ARC-Message-Signature"] is not None
	assert m["ARC-Authentication-Results"].startswith("i=1;")

	def dnsfunc(name, timeout=5):
		return recs.get(name.decode() if isinstance(name, bytes) else
		    name, b"")

	# B's own Return-Path/Delivered-To/Received come first; dkimpy
	# verifies the ARC set over the rest as B received it.
	cv, results, reason = dkim.arc_verify(raw, dnsfunc=dnsfunc)
	assert cv == dkim.CV_Pass, (cv, reason)
