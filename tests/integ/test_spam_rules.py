"""The spam rules over SMTP: what the session found out (a DNSBL listing
below the refusal threshold, an SPF fail that is not refused) and what the
message shows (no Date or Message-ID, a link to an IP address whose text
names another site) move the Bayesian score in log-odds. With an
untrained filter the rules decide: a clean message keeps the Bayesian
score and stays in the inbox, the tricky one goes to Junk with every rule
named in X-Spam-Status."""
import math
import re
import time

import pytest

from conftest import DEMO, RawSMTP, wait_until
from test_screening import DNSServer, dns_config

ZONE = """\
$ORIGIN example.
$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
9.0.0.127.bl A 127.0.0.2
spf-fail TXT "v=spf1 -all"
"""


@pytest.fixture
def dns(tmp_path):
	d = DNSServer(tmp_path / "rules.zone", ZONE)
	yield d
	d.stop()


def send(srv, source, sender, msg):
	with RawSMTP(srv.smtp_port, source=source) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{sender}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(msg.replace("\n", "\r\n").encode() + b".\r\n")
		return c.reply()


def header(data, name):
	m = re.search(rb"^" + name.encode() + rb": ([^\r\n]*)", data, re.M)
	return m.group(1).decode() if m else None


def test_rules_move_the_score(make_server, dns):
	srv = make_server({"dns": dns_config(dns),
	    "screen": {"dnsbl": "bl.example:2", "dnsbl_reject": "5",
	    "dnsbl_loopback": "yes"},
	    "authn": {"spf": "yes", "spf_fail_reject": "no"}})
	date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
	clean = (f"From: ok@example.org\nTo: {DEMO}\nDate: {date}\n"
	    "Message-ID: <1@example.org>\nSubject: lunch\n\n"
	    "See https://www.example.org/menu\n")
	code, lines = send(srv, "127.0.0.10", "ok@example.org", clean)
	assert code == 250, lines
	inbox = wait_until(lambda: srv.maildir_files(DEMO), 10)
	assert inbox and len(inbox) == 1
	got = inbox[0].read_bytes()
	status = header(got, "X-Spam-Status")
	assert status and "rules=none" in status, status
	bayes = float(re.search(r"bayes=([0-9.]+)", status).group(1))
	assert float(header(got, "X-Spam-Score")) == pytest.approx(bayes,
	    abs=0.0011)

	tricky = (f"From: x@spf-fail.example\nTo: {DEMO}\nSubject: verify\n"
	    "Content-Type: text/html\n\n"
	    '<a href="http://192.0.2.9/login">https://www.bank.example/</a>\n')
	code, lines = send(srv, "127.0.0.9", "x@spf-fail.example", tricky)
	assert code == 250, lines
	junk = srv.maildir() / ".Junk" / "new"
	files = wait_until(lambda: junk.exists() and list(junk.iterdir()), 10)
	assert files and len(files) == 1, "the tricky message is not in Junk"
	got = files[0].read_bytes()
	status = header(got, "X-Spam-Status")
	assert status.startswith("Yes, "), status
	for rule in ("DNSBL_LISTED=1.0", "SPF_FAIL=1.2", "MISSING_DATE=0.8",
	    "MISSING_MESSAGE_ID=0.6", "URL_IP_HOST=1.0",
	    "URL_TEXT_OTHER_HOST=1.5"):
		assert rule in status, (rule, status)
	rules = re.search(r"rules=(\S+)", status).group(1)
	total = sum(float(r.split("=")[1]) for r in rules.split(","))
	assert total == pytest.approx(6.1), rules
	# The same untrained filter: combined in log-odds.
	logit = math.log(bayes / (1 - bayes)) + total
	score = float(header(got, "X-Spam-Score"))
	assert score == pytest.approx(1 / (1 + math.exp(-logit)), abs=0.0011)
	assert score > 0.95
	# The log line names the rules and both scores too.
	assert re.search(r'event=spam score=%.3f .*bayes=%.3f '
	    r'rules="[^"]*DNSBL_LISTED' % (score, bayes), srv.log_text()), \
	    srv.log_text()[-2000:]
	assert len(srv.maildir_files(DEMO)) == 1	# nothing else in INBOX
