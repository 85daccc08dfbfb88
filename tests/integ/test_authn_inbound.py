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

import dkim
import pytest

from conftest import DEMO, HOSTNAME, OUTSIDE, REPO

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"

ZONE = """$ORIGIN sender.example.
$TTL 60
@        SOA ns hostmaster 1 3600 600 86400 60
@        TXT "v=spf1 ip4:127.0.0.2 -all"
strict   TXT "v=spf1 -all"
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


def test_spf_fail_is_recorded(srv):
	m = deliver_from_outside(srv, "a@strict.sender.example")
	assert m["Received-SPF"].startswith("fail")
	assert "spf=fail" in m["Authentication-Results"]


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
