"""Outbound delivery between two moatd instances on loopback: A (example.test)
routes other.test to B ([transport], no MX lookup). Opportunistic STARTTLS
and TLS policies, connection reuse, retries after the receiver was down,
bounces (RFC 3464 DSNs) and mail loops (max_received)."""
import email
import email.policy
import re
import smtplib
import subprocess
import time

import pytest

from conftest import (BOB, DEMO, DEMO_PW, ENH_RE, MOATD, MoatServer, RawSMTP,
    check_delivered, login_plain, make_message, submission_client,
    wait_until)

NOSUCH = "nosuchuser@other.test"


def enh(lines):
	assert ENH_RE.match(lines[-1]), lines
	return lines[-1][4:].split(b" ")[0].decode()


def send(srv, rcpts, msg, sender=DEMO):
	"""Submit from 127.0.0.1 (a trusted network) on port 25."""
	with smtplib.SMTP("127.0.0.1", srv.smtp_port,
	    local_hostname="client.example.org", timeout=10) as s:
		refused = s.sendmail(sender, rcpts, msg)
	assert refused == {}, refused


def send_many(srv, n, rcpt=BOB, sender=DEMO):
	"""n messages in one session; returns them."""
	msgs = [make_message(f"message {i}", rcpt=rcpt, sender=sender)
	    for i in range(n)]
	with smtplib.SMTP("127.0.0.1", srv.smtp_port,
	    local_hostname="client.example.org", timeout=10) as s:
		for m in msgs:
			assert s.sendmail(sender, [rcpt], m) == {}
	return msgs


def connects(srv):
	return srv.log_count(r"event=connect service=smtp ")


def wait_deferred(a, n, timeout=10, pattern=None):
	"""Wait until A's queue lists n messages that have been tried (and
	whose last error matches pattern); returns the queue list."""
	def ok():
		q = a.queue_list()
		tried = [r for r in q if len(r) >= 8 and r[5] != "0" and
		    (pattern is None or re.search(pattern, "\t".join(r), re.I))]
		return q if len(tried) >= n else None
	q = wait_until(ok, timeout, interval=0.1)
	assert q, (f"expected {n} deferred message(s) in A's queue, got "
	    f"{a.queue_list()!r}")
	return q


def body_of(data):
	return email.message_from_bytes(data, policy=email.policy.default)


# --------------------------------------------------------------------------
# Delivery and TLS
# --------------------------------------------------------------------------

def test_delivery_to_other_server_over_starttls(make_pair):
	a, b = make_pair()
	msg = make_message("to the other site", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	data = b.wait_delivered(1, user=BOB)[0]
	text = check_delivered(data, msg, sender=DEMO, tls=True)
	assert "using TLSv1" in text
	assert "by mx.other.test" in text
	# A's own Received (from the client) travels below B's.
	assert re.search(rb"by mx\.example\.test \(moat\)", data), data[:600]
	assert a.wait_log(r"smtp-out .*event=tls TLSv1\.3", timeout=5), \
	    a.log_tail(30)
	assert a.wait_log(r"smtp-out id=\S+ to=<bob@other\.test> .*status=sent",
	    timeout=5)
	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()


def test_authenticated_submission_is_delivered_to_other_server(make_pair):
	a, b = make_pair()
	msg = make_message("submitted", rcpt=BOB, sender=DEMO)
	c, _ = submission_client(a)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect(f"RCPT TO:<{BOB}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO,
	    tls=True)


def test_delivery_tls_none_sends_in_clear(make_pair):
	a, b = make_pair({"delivery": {"tls": "none"}})
	msg = make_message("no tls", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO,
	    tls=False)
	assert b.log_count(r"event=tls ") == 0


def test_tls_policy_none_for_the_domain_overrides_default(make_pair):
	a, b = make_pair({"tls_policy": {"other.test": "none"}})
	msg = make_message("policy none", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO,
	    tls=False)


@pytest.mark.parametrize("overrides", [
    {"tls_policy": {"other.test": "verify"}},
    {"delivery": {"tls": "verify"}},
], ids=["tls_policy-domain", "delivery-tls"])
def test_tls_verify_defers_on_self_signed_certificate(make_pair, overrides):
	a, b = make_pair(overrides)
	msg = make_message("must verify", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	q = wait_deferred(a, 1, pattern=r"certif|verif")
	assert len(q) == 1, q
	row = "\t".join(q[0])
	assert "<demo@example.test>" in row, row
	time.sleep(1.0)
	assert b.maildir_files(BOB) == []
	assert b.log_count(r"event=queued") == 0, b.log_tail(30)
	# Still queued, not bounced: no DSN to the sender.
	assert a.maildir_files(DEMO) == []
	assert len(a.queue_list()) == 1


# --------------------------------------------------------------------------
# Connection reuse
# --------------------------------------------------------------------------

def queue_while_down(make_pair, n, a_extra=None):
	"""Queue n messages at A while B is down, then start B; returns
	(a, b, msgs, B's connect count after its start)."""
	a, b = make_pair(dict({"queue": {"retry_min": "60"}}, **(a_extra or {})),
	    start_b=False)
	msgs = send_many(a, n)
	wait_deferred(a, n, pattern=r"refused")
	b.start()
	return a, b, msgs, connects(b)


def test_messages_to_one_destination_share_a_connection(make_pair):
	n = 6
	a, b, msgs, base = queue_while_down(make_pair, n,
	    {"delivery": {"concurrency": "1"}})
	a.ctl("queue", "flush")
	got = b.wait_delivered(n, user=BOB)
	assert len(got) == n
	assert connects(b) - base == 1, b.log_text()
	assert a.log_count(r"smtp-out .*event=connected") == 1
	for m in msgs:
		assert any(d.endswith(m) for d in got)


def test_concurrency_bounds_parallel_connections(make_pair):
	n = 8
	a, b, msgs, base = queue_while_down(make_pair, n,
	    {"delivery": {"concurrency": "2"}})
	a.ctl("queue", "flush")
	assert len(b.wait_delivered(n, user=BOB)) == n
	assert 1 <= connects(b) - base <= 2, b.log_text()


def test_messages_per_connection_limit(make_pair):
	n = 5
	a, b, msgs, base = queue_while_down(make_pair, n,
	    {"delivery": {"concurrency": "1", "messages_per_connection": "2"}})
	a.ctl("queue", "flush")
	assert len(b.wait_delivered(n, user=BOB)) == n
	assert connects(b) - base == 3, b.log_text()


# --------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------

def test_retry_after_receiver_was_down_with_flush(make_pair):
	a, b = make_pair({"queue": {"retry_min": "60"}}, start_b=False)
	msg = make_message("while B was down", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	q = wait_deferred(a, 1, pattern=r"refused")
	row = "\t".join(q[0])
	assert re.search(r"connect.*refused", row, re.I), row
	assert "0/1" in q[0], q[0]
	assert a.wait_log(r"event=deferred id=", timeout=5)
	b.start()
	r = a.ctl("queue", "flush")
	assert "flush" in r.stdout
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO)
	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()
	# Delivered once, no DSN for the delay.
	assert len(b.maildir_files(BOB)) == 1
	assert a.maildir_files(DEMO) == []


def test_retry_after_receiver_was_down_without_flush(make_pair):
	a, b = make_pair({"queue": {"retry_min": "1", "retry_max": "2"}},
	    start_b=False)
	msg = make_message("retried on its own", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	wait_deferred(a, 1, pattern=r"refused")
	b.start()
	check_delivered(b.wait_delivered(1, user=BOB, timeout=10)[0], msg,
	    sender=DEMO)
	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()


def test_queue_show_lists_the_deferred_recipient(make_pair):
	a, b = make_pair({"queue": {"retry_min": "60"}}, start_b=False)
	send(a, [BOB], make_message("show me", rcpt=BOB, sender=DEMO))
	q = wait_deferred(a, 1, pattern=r"refused")
	out = a.ctl("queue", "show", q[0][0]).stdout
	assert "<bob@other.test>" in out, out
	assert re.search(r"refused", out, re.I), out
	assert "Subject: show me" in out, out


# --------------------------------------------------------------------------
# Bounces
# --------------------------------------------------------------------------

def test_permanent_failure_returns_a_dsn_to_the_sender(make_pair):
	a, b = make_pair()
	msg = make_message("partly undeliverable", rcpt=BOB, sender=DEMO)
	send(a, [BOB, NOSUCH], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO)
	data = a.wait_delivered(1, user=DEMO)[0]
	assert data.startswith(b"Return-Path: <>"), data[:200]
	dsn = body_of(data)
	assert dsn["Subject"] == "Undelivered Mail Returned to Sender"
	assert dsn.get_content_type() == "multipart/report"
	assert dsn.get_param("report-type") == "delivery-status"
	assert DEMO in str(dsn["To"])
	parts = list(dsn.iter_parts())
	types = [p.get_content_type() for p in parts]
	assert types[0] == "text/plain", types
	assert "message/delivery-status" in types, types
	assert "text/rfc822-headers" in types, types

	status = parts[types.index("message/delivery-status")]
	blocks = status.get_payload()
	assert len(blocks) >= 2, blocks
	per_msg, per_rcpt = blocks[0], blocks[1:]
	assert per_msg["Reporting-MTA"].startswith("dns;"), per_msg
	assert "mx.example.test" in per_msg["Reporting-MTA"]
	assert len(per_rcpt) == 1, [str(r) for r in per_rcpt]
	r = per_rcpt[0]
	assert re.fullmatch(r"rfc822;\s*nosuchuser@other\.test",
	    r["Final-Recipient"]), r["Final-Recipient"]
	assert r["Action"] == "failed"
	assert r["Status"] == "5.1.1"
	assert r["Remote-MTA"].startswith("dns;"), r["Remote-MTA"]
	assert re.match(r"smtp;\s*550 5\.1\.1", r["Diagnostic-Code"]), \
	    r["Diagnostic-Code"]

	hdrs = parts[types.index("text/rfc822-headers")]
	htext = hdrs.get_payload(decode=True).decode()
	assert "Subject: partly undeliverable" in htext, htext
	orig = email.message_from_bytes(msg)
	assert orig["Message-ID"] in htext, htext
	# Headers only: the body of the original is not returned.
	assert "Hello from the moat integration suite" not in htext
	assert "nosuchuser@other.test" in parts[0].get_content()

	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()
	assert a.wait_log(r"event=bounced id=\S+ rcpt=nosuchuser@other\.test",
	    timeout=2)


def test_only_failed_recipients_are_reported(make_pair):
	"""A DSN lists the failed recipients; the delivered one is not in it
	(or, if listed, only as delivered)."""
	a, b = make_pair()
	send(a, [BOB, NOSUCH, "other-missing@other.test"],
	    make_message("two failures", rcpt=BOB, sender=DEMO))
	b.wait_delivered(1, user=BOB)
	data = a.wait_delivered(1, user=DEMO)[0]
	dsn = body_of(data)
	status = [p for p in dsn.iter_parts()
	    if p.get_content_type() == "message/delivery-status"][0]
	rcpts = {r["Final-Recipient"].split(";", 1)[1].strip(): r["Action"]
	    for r in status.get_payload()[1:]}
	assert rcpts.get(NOSUCH) == "failed", rcpts
	assert rcpts.get("other-missing@other.test") == "failed", rcpts
	assert rcpts.get(BOB) in (None, "delivered", "relayed"), rcpts
	# One DSN for the message, not one per recipient.
	time.sleep(0.5)
	assert len(a.maildir_files(DEMO)) == 1


def test_null_sender_failure_produces_no_dsn(make_pair):
	a, b = make_pair()
	send(a, [NOSUCH], make_message("a bounce bouncing", rcpt=NOSUCH,
	    sender="MAILER-DAEMON@example.test"), sender="")
	assert a.wait_log(r"event=bounced id=\S+ rcpt=nosuchuser@other\.test",
	    timeout=10), a.log_tail(30)
	time.sleep(1.0)
	assert a.log_count(r"event=dsn ") == 0, a.log_tail(30)
	assert a.maildir_files(DEMO) == []
	assert b.maildir_files(BOB) == []
	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()
	assert b.queue_list() == []


def test_dsn_that_fails_is_dropped_not_bounced_again(make_pair):
	"""B relays for ghost@example.test to a missing user at A: A answers
	550, B returns a DSN to ghost@example.test, which A refuses too. The
	DSN comes from <>, so it is dropped instead of bouncing again."""
	a, b = make_pair(start_a=False, start_b=False)
	b.config.setdefault("transport", {})["example.test"] = \
	    f"[127.0.0.1]:{a.smtp_port}"
	b.write_config()
	b.start()
	a.start()
	ghost = "ghost@example.test"
	target = "nobody@example.test"
	send(b, [target], make_message("to nobody", rcpt=target, sender=ghost),
	    sender=ghost)
	assert b.wait_log(r"event=dsn id=\S+ .*to=<ghost@example\.test>",
	    timeout=10), b.log_tail(30)
	assert b.wait_log(r"event=bounced id=\S+ rcpt=ghost@example\.test",
	    timeout=10), b.log_tail(30)
	time.sleep(1.0)
	assert b.log_count(r"event=dsn ") == 1, b.log_tail(30)
	assert wait_until(lambda: b.queue_list() == [], 5), b.queue_list()
	assert a.maildir_files(DEMO) == []
	assert a.queue_list() == []


def test_delay_warning_dsn_once_then_delivery(make_pair):
	a, b = make_pair({"queue": {"retry_min": "1", "retry_max": "1",
	    "delay_warning": "1"}}, start_b=False)
	msg = make_message("slow road", rcpt=BOB, sender=DEMO)
	send(a, [BOB], msg)
	data = a.wait_delivered(1, user=DEMO, timeout=10)[0]
	assert data.startswith(b"Return-Path: <>"), data[:200]
	dsn = body_of(data)
	assert dsn["Subject"].startswith("Delayed Mail"), dsn["Subject"]
	assert dsn.get_param("report-type") == "delivery-status"
	status = [p for p in dsn.iter_parts()
	    if p.get_content_type() == "message/delivery-status"][0]
	r = status.get_payload()[1]
	assert r["Action"] == "delayed", str(r)
	assert r["Status"].startswith("4."), str(r)
	assert "bob@other.test" in r["Final-Recipient"]
	# Still queued; more retries bring no second warning.
	assert len(a.queue_list()) == 1
	time.sleep(2.5)
	assert len(a.maildir_files(DEMO)) == 1
	b.start()
	a.ctl("queue", "flush")
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO)
	assert wait_until(lambda: a.queue_list() == [], 5), a.queue_list()
	time.sleep(0.5)
	assert len(a.maildir_files(DEMO)) == 1


# --------------------------------------------------------------------------
# Mail loops
# --------------------------------------------------------------------------

def received_headers(n):
	return [f"Received: from hop{i}.example.org ([192.0.2.{i + 1}])\r\n"
	    f"\tby relay{i}.example.org; Fri, 27 Nov 2026 20:00:{i:02d} +0000"
	    for i in range(n)]


def data_reply(srv, msg):
	with RawSMTP(srv.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<sender@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		return c.reply()


def test_too_many_received_headers_is_554_5_4_6(make_server):
	srv = make_server({"queue": {"max_received": "5"}})
	ok = make_message("few hops", extra_headers=received_headers(3))
	code, lines = data_reply(srv, ok)
	assert code == 250, lines
	looped = make_message("looping", extra_headers=received_headers(6))
	code, lines = data_reply(srv, looped)
	assert code == 554 and enh(lines) == "5.4.6", lines
	delivered = srv.wait_delivered(1)
	time.sleep(0.5)
	assert len(srv.maildir_files()) == 1
	assert delivered[0].endswith(ok)


def test_default_max_received_is_50(moat_server):
	code, lines = data_reply(moat_server,
	    make_message("40 hops", extra_headers=received_headers(40)))
	assert code == 250, lines
	code, lines = data_reply(moat_server,
	    make_message("60 hops", extra_headers=received_headers(60)))
	assert code == 554 and enh(lines) == "5.4.6", lines


def test_received_in_the_body_does_not_count(make_server):
	srv = make_server({"queue": {"max_received": "5"}})
	body = "".join(h + "\r\n" for h in received_headers(10))
	code, lines = data_reply(srv, make_message("quoted hops", body=body))
	assert code == 250, lines


def test_loop_between_two_servers_is_cut_and_bounced(make_pair):
	"""A routes loop.test to B and B routes it back to A: the message
	goes round until one of them counts more than max_received Received:
	headers and refuses it; the sender gets a DSN."""
	a, b = make_pair({"queue": {"max_received": "5"}},
	    {"queue": {"max_received": "5"}}, start_a=False, start_b=False)
	a.config["transport"]["loop.test"] = f"[127.0.0.1]:{b.smtp_port}"
	a.write_config()
	b.config.setdefault("transport", {})
	b.config["transport"]["loop.test"] = f"[127.0.0.1]:{a.smtp_port}"
	b.config["transport"]["example.test"] = f"[127.0.0.1]:{a.smtp_port}"
	b.write_config()
	b.start()
	a.start()
	send(a, ["x@loop.test"], make_message("round and round",
	    rcpt="x@loop.test", sender=DEMO))
	data = a.wait_delivered(1, user=DEMO, timeout=12)[0]
	dsn = body_of(data)
	assert dsn.get_content_type() == "multipart/report"
	status = [p for p in dsn.iter_parts()
	    if p.get_content_type() == "message/delivery-status"][0]
	r = status.get_payload()[1]
	assert "x@loop.test" in r["Final-Recipient"], r
	assert r["Status"] == "5.4.6", str(r)
	assert r["Action"] == "failed"
	# The loop stopped: both queues drain.
	assert wait_until(lambda: a.queue_list() == [] and
	    b.queue_list() == [], 5), (a.queue_list(), b.queue_list())


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

def moatd_check(srv):
	return subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
	    capture_output=True, text=True, timeout=20)


@pytest.fixture
def cfg(moat_binaries, moat_user):
	srv = MoatServer()
	yield srv
	srv.cleanup(keep=False)


def test_delivery_keys_pass_check(cfg):
	for sec, kv in {
	    "queue": {"retry_min": "30s", "retry_max": "2h",
	        "bounce_after": "5d", "delay_warning": "4h",
	        "max_received": "30"},
	    "delivery": {"connect_timeout": "2", "smtp_timeout": "5m",
	        "concurrency": "10", "messages_per_connection": "100",
	        "tls": "may"},
	    "transport": {"other.test": "[127.0.0.1]:2525",
	        "*": "[127.0.0.1]:2526"},
	    "tls_policy": {"other.test": "verify", "*": "may"},
	}.items():
		cfg.config.setdefault(sec, {}).update(kv)
	cfg.write_config()
	r = moatd_check(cfg)
	assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("section,key,value,needle", [
    ("queue", "bounce_after", "30", "bounce_after"),
    ("queue", "max_received", "4", "max_received"),
    ("queue", "max_received", "many", "max_received"),
    ("queue", "delay_warning", "later", "delay_warning"),
    ("delivery", "tls", "maybe", "tls"),
    ("delivery", "concurrency", "0", "concurrency"),
    ("delivery", "connect_timeout", "0", "connect_timeout"),
    ("delivery", "messages_per_connection", "0", "messages_per_connection"),
    ("tls_policy", "other.test", "strict", "other.test"),
    ("transport", "not a domain!", "[127.0.0.1]:25", "not a domain!"),
    ("transport", "other.test", "[127.0.0.1]:99999", "other.test"),
])
def test_bad_delivery_value_is_named(cfg, section, key, value, needle):
	cfg.config.setdefault(section, {})[key] = value
	cfg.write_config()
	r = moatd_check(cfg)
	assert r.returncode != 0, f"[{section}] {key} = {value!r} accepted"
	assert needle in r.stderr, \
	    f"error does not name {needle!r}: {r.stderr!r}"
