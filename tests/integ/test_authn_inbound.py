"""Domain authentication of inbound mail in the SMTP session: SPF from
MAIL FROM, DKIM over the message, the Received-SPF and
Authentication-Results headers, and removal of forged
Authentication-Results that claim our name. A real DNS server on loopback
serves the sender domains."""
import base64
import email
import signal
import smtplib
import subprocess
import time

import dkim
import pytest

from conftest import DEMO, HOSTNAME, OUTSIDE, REPO

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"

ZONE = """$ORIGIN sender.example.
$TTL 60
@        SOA ns hostmaster 1 3600 600 86400 60
@        TXT "v=spf1 ip4:127.0.0.2 -all"
strict   TXT "v=spf1 -all"
reject   TXT "v=spf1 -all"
_dmarc.reject TXT "v=DMARC1; p=reject"
quarantine TXT "v=spf1 -all"
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
aligned  TXT "v=spf1 ip4:127.0.0.2 -all"
_dmarc.aligned TXT "v=DMARC1; p=reject"
"""


@pytest.fixture
def srv(make_server, tmp_path):
	zone = tmp_path / "z.zone"
	zone.write_text(ZONE)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zone)], stdout=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], line
	yield make_server(overrides={
	    "dns": {"resolver": f"127.0.0.1:{line[1]}", "timeout": "2000"},
	    "authn": {"spf": "yes", "dkim_verify": "yes"}})
	proc.send_signal(signal.SIGTERM)
	proc.wait(timeout=5)


def deliver_from_outside(srv, sender, extra=""):
	msg = (f"From: {sender}\r\n{extra}Subject: authn\r\n\r\nbody\r\n")
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
	    source_address=(OUTSIDE, 0)) as s:
		assert s.sendmail(sender, [DEMO], msg) == {}
	got = srv.wait_delivered(1)
	assert len(got) == 1
	return email.message_from_bytes(got[0])


def test_spf_pass_is_recorded(srv):
	m = deliver_from_outside(srv, "a@sender.example")
	assert m["Received-SPF"].startswith("pass")
	ar = m.get_all("Authentication-Results")
	assert len(ar) == 1 and ar[0].startswith(HOSTNAME + ";")
	assert "spf=pass smtp.mailfrom=a@sender.example" in " ".join(ar[0].split())
	assert "dkim=none" in ar[0]


def test_spf_fail_without_dmarc_is_refused(srv):
	"""No DMARC policy for the From domain: an SPF fail is refused at the
	end of DATA with 550 5.7.23 (RFC 7372), and nothing is delivered."""
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
	    source_address=(OUTSIDE, 0)) as s:
		with pytest.raises(smtplib.SMTPDataError) as e:
			s.sendmail("a@strict.sender.example", [DEMO],
			    "From: a@strict.sender.example\r\nSubject: x\r\n\r\nx\r\n")
	assert e.value.smtp_code == 550
	assert e.value.smtp_error.startswith(b"5.7.23")
	assert srv.maildir_files() == []


def test_spf_fail_is_only_recorded_when_configured(make_server, tmp_path):
	zone = tmp_path / "z.zone"
	zone.write_text(ZONE)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zone)], stdout=subprocess.PIPE, text=True)
	try:
		port = proc.stdout.readline().split()[1]
		srv = make_server(overrides={
		    "dns": {"resolver": f"127.0.0.1:{port}"},
		    "authn": {"spf": "yes", "spf_fail_reject": "no"}})
		m = deliver_from_outside(srv, "a@strict.sender.example")
		assert m["Received-SPF"].startswith("fail")
		assert "spf=fail" in m["Authentication-Results"]
	finally:
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=5)


def test_forged_authentication_results_are_removed(srv):
	m = deliver_from_outside(srv, "a@sender.example",
	    extra=f"Authentication-Results: {HOSTNAME}; spf=pass;\r\n"
	    "\tdkim=pass header.d=bank.example\r\n"
	    "Authentication-Results: other.example; spf=fail\r\n")
	ar = m.get_all("Authentication-Results")
	# Ours (added) and the other server's (kept); the forgery is gone.
	assert len(ar) == 2
	assert "bank.example" not in " ".join(ar)
	assert any(a.startswith("other.example") for a in ar)


def test_trusted_and_authenticated_mail_is_not_checked(srv):
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15) as s:
		s.sendmail("a@strict.sender.example", [DEMO],
		    "Subject: local\r\n\r\nbody\r\n")
	m = email.message_from_bytes(srv.wait_delivered(1)[0])
	assert m["Received-SPF"] is None
	assert m["Authentication-Results"] is None


def test_dkim_signature_verified_in_session(make_server, tmp_path):
	"""A message signed by dkimpy (an independent implementation) gets
	dkim=pass in our Authentication-Results; a tampered copy gets
	dkim=fail."""
	key = tmp_path / "k.pem"
	subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
	    check=True, capture_output=True)
	pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True).stdout
	p = base64.b64encode(pub).decode()
	chunks = " ".join(f'"{p[i:i + 200]}"' for i in range(0, len(p), 200))
	zone = tmp_path / "d.zone"
	zone.write_text(ZONE + f'sel._domainkey TXT "v=DKIM1; k=rsa; p=" '
	    f'{chunks}\n')
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zone)], stdout=subprocess.PIPE, text=True)
	try:
		line = proc.stdout.readline().split()
		assert line[:1] == ["ready"], line
		srv = make_server(overrides={
		    "dns": {"resolver": f"127.0.0.1:{line[1]}"},
		    "authn": {"spf": "yes", "dkim_verify": "yes"}})
		msg = (b"From: a@sender.example\r\nTo: demo@example.test\r\n"
		    b"Subject: signed\r\n\r\nsigned body\r\n")
		sig = dkim.sign(msg, b"sel", b"sender.example", key.read_bytes(),
		    include_headers=[b"from", b"to", b"subject"])
		for body, want in ((sig + msg, "dkim=pass"),
		    (sig + msg.replace(b"signed body", b"changed"),
		    "dkim=fail")):
			with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
			    source_address=(OUTSIDE, 0)) as s:
				s.sendmail("a@sender.example", [DEMO], body)
		got = srv.wait_delivered(2)
		ars = sorted(" ".join(email.message_from_bytes(g)
		    ["Authentication-Results"].split()) for g in got)
		assert any("dkim=pass" in a and "header.d=sender.example" in a
		    for a in ars), ars
		assert any("dkim=fail" in a for a in ars), ars
	finally:
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=5)


def send_outside(srv, sender):
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
	    source_address=(OUTSIDE, 0)) as s:
		s.sendmail(sender, [DEMO],
		    f"From: {sender}\r\nSubject: dmarc\r\n\r\nx\r\n")


def test_dmarc_reject_policy_refuses(srv):
	with pytest.raises(smtplib.SMTPDataError) as e:
		send_outside(srv, "a@reject.sender.example")
	assert e.value.smtp_code == 550
	assert e.value.smtp_error.startswith(b"5.7.1")
	assert srv.maildir_files() == []


def test_dmarc_quarantine_goes_to_junk(srv):
	send_outside(srv, "a@quarantine.sender.example")
	junk = srv.maildir() / ".Junk" / "new"
	got = []
	for _ in range(100):
		got = list(junk.glob("*")) if junk.exists() else []
		if got:
			break
		time.sleep(0.1)
	assert len(got) == 1, "not delivered to Junk"
	assert srv.maildir_files() == []	# not in the INBOX
	ar = email.message_from_bytes(got[0].read_bytes())[
	    "Authentication-Results"]
	assert "dmarc=fail" in ar


def test_dmarc_pass_with_aligned_spf(srv):
	m = deliver_from_outside(srv, "a@aligned.sender.example")
	assert "dmarc=pass" in m["Authentication-Results"]


def rsa_key(tmp_path):
	"""A fresh RSA key: (PEM bytes, the p= value of its record)."""
	key = tmp_path / "arc.pem"
	subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
	    check=True, capture_output=True)
	pub = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
	    "-outform", "DER"], check=True, capture_output=True).stdout
	return key.read_bytes(), base64.b64encode(pub).decode()


def serve(tmp_path, extra):
	zone = tmp_path / "x.zone"
	zone.write_text(ZONE + extra)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zone)], stdout=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], line
	return proc, line[1]


def test_arc_chain_is_verified_and_recorded(make_server, tmp_path):
	"""A message ARC-sealed by dkimpy (as a forwarder would) gets arc=pass
	in our Authentication-Results."""
	pem, p = rsa_key(tmp_path)
	chunks = " ".join(f'"{p[i:i + 200]}"' for i in range(0, len(p), 200))
	proc, port = serve(tmp_path, f'arc._domainkey TXT "v=DKIM1; k=rsa; '
	    f'p=" {chunks}\n')
	try:
		srv = make_server(overrides={
		    "dns": {"resolver": f"127.0.0.1:{port}"},
		    "authn": {"spf": "yes", "dkim_verify": "yes"}})
		# dkimpy seals only what its own Authentication-Results says.
		msg = (b"Authentication-Results: fwd.sender.example; "
		    b"spf=pass smtp.mailfrom=a@sender.example\r\n"
		    b"From: a@sender.example\r\nTo: demo@example.test\r\n"
		    b"Subject: forwarded\r\n\r\nforwarded body\r\n")
		arc = dkim.arc_sign(msg, b"arc", b"sender.example", pem,
		    b"fwd.sender.example", include_headers=[b"from", b"to",
		    b"subject"])
		assert len(arc) == 3, "dkimpy made no ARC set"
		sealed = b"".join(arc) + msg
		with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=15,
		    source_address=(OUTSIDE, 0)) as s:
			s.sendmail("a@sender.example", [DEMO], sealed)
		m = email.message_from_bytes(srv.wait_delivered(1)[0])
		ar = " ".join(m["Authentication-Results"].split())
		assert "arc=pass" in ar, ar
	finally:
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=5)


def test_sender_id_when_enabled(make_server, tmp_path):
	proc, port = serve(tmp_path, 'pra TXT "spf2.0/pra ip4:127.0.0.2 -all"\n')
	try:
		srv = make_server(overrides={
		    "dns": {"resolver": f"127.0.0.1:{port}"},
		    "authn": {"spf": "yes", "sender_id": "yes"}})
		m = deliver_from_outside(srv, "a@pra.sender.example")
		ar = " ".join(m["Authentication-Results"].split())
		assert "sender-id=pass header.from=a@pra.sender.example" in ar, ar
	finally:
		proc.send_signal(signal.SIGTERM)
		proc.wait(timeout=5)
