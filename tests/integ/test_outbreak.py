"""Outbreak protection over real SMTP: 200 near-identical messages (a
different name and numbers in each) from 20 loopback addresses outside the
trusted networks, one recipient each. Once the fingerprint has reached
[outbreak] recipients from [outbreak] sources, further matching messages get
451 4.7.1; unrelated mail and an exempt sender still flow; `moatctl outbreak
release all` lets matching mail through again."""
import re

import pytest

from conftest import RawSMTP, wait_until
from test_screening import DNSServer, dns_config

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
    "trent", "victor", "walter", "yvonne"]

# 20 outside clients (the test server trusts only 127.0.0.1).
SOURCES = [f"127.0.0.{10 + i}" for i in range(20)]
OTHER = "127.0.0.99"
EXEMPT = "news@bulk.example.org"
# The newsletter's SPF record: only the first source may send it, so the
# exemption holds there and is forged from anywhere else.
SPF_ZONE = """\
$ORIGIN bulk.example.org.
$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
@ TXT "v=spf1 ip4:127.0.0.10 -all"
"""


@pytest.fixture
def spf_dns(tmp_path):
	d = DNSServer(tmp_path / "spf.zone", SPF_ZONE)
	yield d
	d.stop()

TEMPLATE = (
	"Dear {name},\r\n\r\n"
	"We noticed unusual activity on your account number {num}. To keep "
	"your mailbox active please confirm your details within 24 hours by "
	"opening the secure form at https://example.invalid/verify?id={tid} "
	"and entering the code {code}. If you do not confirm, your account "
	"will be suspended and all stored messages will be deleted "
	"permanently.\r\n\r\nThank you for your cooperation,\r\n"
	"The Security Team\r\n")

UNRELATED = (
	"Hello,\r\n\r\nthe minutes of Tuesday's allotment committee meeting "
	"are below. We agreed to repair the greenhouse roof before winter, to "
	"order compost in bulk with the neighbouring society, and to hold the "
	"harvest fair on the second Saturday of October.\r\n\r\nRegards,\r\n"
	"Margaret\r\n")


def outbreak_body(i):
	return TEMPLATE.format(name=NAMES[i % len(NAMES)].capitalize(),
	    num=100000 + i * 7919, tid=f"{i * 2654435761:x}", code=4000 + i)


def send(c, sender, rcpt, subject, body):
	"""One message, MAIL/RCPT/DATA pipelined; the final reply."""
	c.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
	for want in (250, 250, 354):
		code, lines = c.reply()
		assert code == want, lines
	msg = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
	    f"\r\n{body}.\r\n")
	c.send(msg)
	return c.reply()


def connect(srv, source):
	c = RawSMTP(srv.smtp_port, source=source, timeout=20)
	c.greeting()
	c.ehlo()
	return c


def test_outbreak_caught_unrelated_flows(make_server, spf_dns):
	srv = make_server({
		"outbreak": {"sources": "10", "recipients": "50",
		    "window": "1h", "exempt": "@bulk.example.org"},
		"dns": dns_config(spf_dns),
		"authn": {"spf": "yes", "spf_fail_reject": "no"},
		"limits": {"idle_timeout": "60", "commands": "1000",
		    "recipients": "10"},
	})
	conns = [connect(srv, ip) for ip in SOURCES]
	other = connect(srv, OTHER)
	codes = []
	unrelated = []
	try:
		for i in range(200):
			c = conns[i % len(conns)]
			code, lines = send(c, f"security{i}@bank-notice.example",
			    f"user{i}@catchall.test", f"Account notice {i}",
			    outbreak_body(i))
			codes.append(code)
			if code == 451:
				assert b"4.7.1" in lines[-1], lines
				assert b"outbreak" in lines[-1], lines
			else:
				assert code == 250, lines
			# Unrelated mail from another client, now and then.
			if i in (30, 100, 199):
				code, lines = send(other, "margaret@garden.example",
				    f"member{i}@catchall.test", "Minutes",
				    UNRELATED.replace("Tuesday", f"day {i}"))
				unrelated.append(code)
		first = codes.index(451)
		# The thresholds: 50 recipients (and 10 sources) reached around
		# the 50th message; linear counting may be off by one or two.
		assert 45 <= first <= 55, codes
		assert all(c == 250 for c in codes[:first])
		# After the trip nearly everything matching is refused (a
		# variant whose every band key misses is possible, rare).
		assert codes[first:].count(451) >= len(codes[first:]) - 2, codes
		assert unrelated == [250, 250, 250]

		# An exempt sender (a newsletter whose SPF passes) is never
		# counted or held...
		code, lines = send(conns[0], EXEMPT, "reader@catchall.test",
		    "Newsletter", outbreak_body(500))
		assert code == 250, lines
		# ...but the same sender forged from elsewhere (SPF fail) is.
		code, lines = send(conns[1], EXEMPT, "reader2@catchall.test",
		    "Newsletter", outbreak_body(501))
		assert code == 451 and b"outbreak" in lines[-1], lines
		assert srv.wait_log(r"event=outbreak-exempt-unverified "
		    r"from=<news@bulk\.example\.org>")

		assert srv.wait_log(r"event=outbreak key=t:[0-9a-f]{16} "
		    r"sources=\d+ rcpts=\d+ messages=\d+ action=tempfail "
		    r"tripped=yes")
		out = srv.ctl("outbreak", "list").stdout
		rows = [ln.split("\t") for ln in out.splitlines() if ln]
		assert rows, out
		for r in rows:
			assert re.fullmatch(r"t:[0-9a-f]{16}", r[0]), r
			assert r[1] == "outbreak", r
			assert int(r[2]) >= 10 and int(r[5]) >= 50, r
		assert "released" in srv.ctl("outbreak", "release",
		    "all").stdout
		assert srv.ctl("outbreak", "list").stdout == ""
		code, lines = send(conns[1], "security900@bank-notice.example",
		    "user900@catchall.test", "Account notice 900",
		    outbreak_body(900))
		assert code == 250, lines
		r = srv.ctl("outbreak", "release", "t:0000000000000001",
		    check=False)
		assert r.returncode == 1 and "no such key" in r.stderr
	finally:
		for c in conns + [other]:
			c.close()


def test_outbreak_shadow_and_trusted(make_server):
	"""Shadow mode logs and lets everything through; mail from trusted
	networks is never counted."""
	srv = make_server({
		"outbreak": {"sources": "3", "recipients": "5",
		    "mode": "shadow"},
		"limits": {"idle_timeout": "60", "commands": "1000"},
	})
	conns = [connect(srv, ip) for ip in SOURCES[:4]]
	trusted = connect(srv, "127.0.0.1")
	try:
		for i in range(12):
			code, lines = send(conns[i % 4], f"s{i}@x.example",
			    f"u{i}@catchall.test", "n", outbreak_body(i))
			assert code == 250, lines
		assert srv.wait_log(r"event=outbreak .* shadow=yes")
		for i in range(12):
			code, lines = send(trusted, f"t{i}@x.example",
			    f"t{i}@catchall.test", "n", UNRELATED + f"#{i}\r\n")
			assert code == 250, lines
		rows = [ln.split("\t") for ln in srv.ctl("outbreak", "list",
		    "-a").stdout.splitlines() if ln]
		# Only the outside clients' fingerprint was counted: its keys,
		# 12 messages each (or fewer for a band a variant missed).
		assert rows
		assert all(int(r[6]) <= 12 for r in rows), rows
		assert max(int(r[6]) for r in rows) == 12, rows
	finally:
		for c in conns + [trusted]:
			c.close()


def test_outbreak_quarantine_action(make_server):
	"""With action = quarantine the tripping message and those after it
	are accepted and held (the envelope's quarantine line names the key),
	the ones before it delivered."""
	srv = make_server({
		"outbreak": {"sources": "3", "recipients": "6",
		    "action": "quarantine"},
		"limits": {"idle_timeout": "60", "commands": "1000"},
	})
	conns = [connect(srv, ip) for ip in SOURCES[:3]]
	try:
		for i in range(9):
			code, lines = send(conns[i % 3], f"s{i}@x.example",
			    f"q{i}@catchall.test", "n", outbreak_body(i))
			assert code == 250, lines
	finally:
		for c in conns:
			c.close()
	assert srv.wait_log(r"event=outbreak key=t:[0-9a-f]{16} .*"
	    r"action=quarantine tripped=yes")
	held = srv.log_count(r"event=outbreak key=.* action=quarantine")
	assert 3 <= held <= 4, srv.log_tail(40)
	rx = re.compile(rb"quarantine outbreak t:[0-9a-f]{16}\n")

	def envelopes():
		found = []
		for p in srv.data_dir.rglob("*"):
			try:
				if p.is_file() and rx.search(p.read_bytes()):
					found.append(p)
			except OSError:
				pass
		return found
	assert wait_until(lambda: len(envelopes()) >= held, 5), \
	    srv.log_tail(30)
	# Only those before the trip reach the mailbox.
	assert len(srv.wait_delivered(9 - held, settle=1)) == 9 - held
