"""Outbound delivery found through DNS: MX, implicit MX, null MX and
NXDOMAIN, with a real DNS server on loopback (tests/dns/dnsserver.py)
serving a test zone, and a second moatd as the receiving MX.

Names under .test are answered by libunbound itself (NXDOMAIN), so the
zone uses .example names."""
import email
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEMO, REPO, make_message, wait_until

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"

ZONE = """$ORIGIN mx.example.
$TTL 60
@        SOA ns hostmaster 1 3600 600 86400 60
@        MX 10 mail1
@        MX 20 mail2
mail1    A 127.0.0.1
mail2    A 127.0.0.1
implicit A 127.0.0.1
nullmx   MX 0 .
"""


@pytest.fixture
def dns_server(tmp_path):
	zone = tmp_path / "mx.zone"
	zone.write_text(ZONE)
	proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER), "--port",
	    "0", "--zone", str(zone)], stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, text=True)
	line = proc.stdout.readline().split()
	assert line[:1] == ["ready"], f"dnsserver did not start: {line}"
	yield int(line[1])
	proc.send_signal(signal.SIGTERM)
	try:
		proc.wait(timeout=5)
	except subprocess.TimeoutExpired:
		proc.kill()
		proc.wait()


@pytest.fixture
def sites(make_server, dns_server):
	"""A sends; B is the MX of mx.example and implicit.mx.example."""
	b = make_server(provision=False, start=False)
	b.ctl("domain", "add", "mx.example")
	b.ctl("domain", "add", "implicit.mx.example")
	b.ctl("account", "add", "bob@mx.example", input="bob-pw-1\n")
	b.ctl("account", "add", "carol@implicit.mx.example",
	    input="carol-pw-1\n")
	b.start()
	a = make_server(overrides={
	    "dns": {"resolver": f"127.0.0.1:{dns_server}", "timeout": "2000"},
	    "delivery": {"port": str(b.smtp_port), "connect_timeout": "3"},
	    "queue": {"retry_min": "1"},
	})
	return a, b


def send(a, rcpts, subject):
	msg = make_message(subject, rcpt=", ".join(rcpts))
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10) as s:
		assert s.sendmail(DEMO, rcpts, msg) == {}
	return msg


def test_delivery_by_mx(sites):
	a, b = sites
	msg = send(a, ["bob@mx.example"], "by mx")
	got = b.wait_delivered(1, user="bob@mx.example", timeout=15)
	assert len(got) == 1 and got[0].endswith(msg)
	assert a.log_count(r"smtp-out .*to=<bob@mx.example> relay=mail[12]"
	    r"\.mx\.example\[127\.0\.0\.1\].*status=sent") == 1


def test_implicit_mx_is_the_domain_itself(sites):
	a, b = sites
	msg = send(a, ["carol@implicit.mx.example"], "implicit mx")
	got = b.wait_delivered(1, user="carol@implicit.mx.example", timeout=15)
	assert len(got) == 1 and got[0].endswith(msg)


def dsn_for(a, timeout=15):
	got = a.wait_delivered(1, user=DEMO, timeout=timeout)
	assert len(got) == 1, "no DSN reached the sender"
	return email.message_from_bytes(got[0])


def test_null_mx_bounces_at_once(sites):
	a, b = sites
	send(a, ["x@nullmx.mx.example"], "to a null mx")
	dsn = dsn_for(a)
	assert dsn["Subject"] == "Undelivered Mail Returned to Sender"
	report = [p for p in dsn.walk()
	    if p.get_content_type() == "message/delivery-status"]
	text = report[0].as_string()
	assert "Final-Recipient: rfc822; x@nullmx.mx.example" in text
	assert "Status: 5.1.10" in text
	assert b.maildir_files(user="bob@mx.example") == []
	assert wait_until(lambda: a.queue_list() == [], 5)


def test_nxdomain_bounces(sites):
	a, b = sites
	send(a, ["x@nowhere.mx.example"], "to nowhere")
	dsn = dsn_for(a)
	text = "\n".join(p.as_string() for p in dsn.walk()
	    if p.get_content_type() == "message/delivery-status")
	assert "Status: 5.1.2" in text
