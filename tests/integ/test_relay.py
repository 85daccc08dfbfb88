"""Relay control, end to end: server A routes every non-local domain
([transport] *) to a second moatd B, so anything A relays shows up as a
connection at B. Outside clients (127.0.0.2) relay nothing, whatever the
address trick; trusted networks and authenticated accounts (with relay on)
do. POP-before-SMTP needs a POP3/IMAP login, which does not exist yet."""
import smtplib
import subprocess
import time

import pytest

from conftest import (BOB, DEMO, DEMO_PW, ENH_RE, MOATD, OUTSIDE, MoatServer,
    RawSMTP,
    check_delivered, login_plain, make_message, plain_response,
    submission_client, tls_client_context)

SENDER = "relay@client.example.org"

TRICKS = [
    "user@other.example",
    "USER@OTHER.EXAMPLE",
    "user%other.example@example.test",
    '"user@other.example"@example.test',
    "@example.test:user@other.example",
    "other.example!user@example.test",
    "user@[192.0.2.1]",
    "user@[127.0.0.1]",
    "user@example.test.",
    "user@other.example@example.test",
    "user@xn--bcher-kva.example",
    # A real mailbox at the other server, in several spellings.
    BOB,
    "BOB@OTHER.TEST",
    "bob%other.test@example.test",
    "@example.test:bob@other.test",
    "other.test!bob@example.test",
    "bob@other.test.",
]


def enh(lines):
	assert ENH_RE.match(lines[-1]), lines
	return lines[-1][4:].split(b" ")[0].decode()


@pytest.fixture
def relay_pair(make_pair):
	"""A routes every remote domain to B; B counts what arrives."""
	def factory(a_overrides=None):
		a, b = make_pair({"limits": {"errors": "50"}}, start_a=False)
		b_route = a.config["transport"]["other.test"]
		a.config.setdefault("transport", {})["*"] = b_route
		for sec, kv in (a_overrides or {}).items():
			a.config.setdefault(sec, {}).update(kv)
		a.write_config()
		a.start()
		return a, b
	return factory


def b_sessions(b):
	"""SMTP sessions at b that sent a command (the start-up probe of the
	test harness sends none)."""
	return b.log_count(r"cmd=(EHLO|HELO) ")


def try_relay(c, rcpt, sender=SENDER):
	"""One transaction to rcpt; a 250 to RCPT is followed by DATA.
	Returns the RCPT reply code."""
	code, lines = c.cmd(f"MAIL FROM:<{sender}>")
	assert code == 250, lines
	code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
	if code == 250:
		c.expect("DATA", 354)
		c.send(make_message(f"relay trick {rcpt}", rcpt=rcpt,
		    sender=sender) + b".\r\n")
		c.reply()
	else:
		assert code in (501, 550, 553, 554), (rcpt, lines)
	c.expect("RSET", 250)
	return code


def assert_nothing_relayed(a, b, settle=1.5):
	time.sleep(settle)
	assert b_sessions(b) == 0, "B received SMTP sessions:\n" + b.log_tail(40)
	assert b.maildir_files(BOB) == []
	assert a.log_count(r"smtp-out ") == 0, \
	    "A tried outbound delivery:\n" + a.log_tail(40)
	left = a.queue_list()
	assert left == [], f"A's queue holds messages: {left!r}"


def test_outside_battery_relays_nothing(relay_pair):
	a, b = relay_pair()
	with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		for rcpt in TRICKS:
			try_relay(c, rcpt)
	assert_nothing_relayed(a, b)


def test_outside_battery_with_local_sender_relays_nothing(relay_pair):
	"""Claiming a local envelope sender does not make a client trusted."""
	a, b = relay_pair()
	with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		for rcpt in TRICKS[:6] + [BOB]:
			try_relay(c, rcpt, sender=DEMO)
	assert_nothing_relayed(a, b)


def test_outside_relay_is_554_5_7_1_at_rcpt(relay_pair):
	a, b = relay_pair()
	for rcpt in ("user@other.example", "USER@OTHER.EXAMPLE", BOB):
		with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
			c.greeting()
			c.ehlo()
			c.expect(f"MAIL FROM:<{SENDER}>", 250)
			code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
			assert code == 554 and enh(lines) == "5.7.1", (rcpt, lines)
			# A local recipient in the same transaction is fine.
			c.expect(f"RCPT TO:<{DEMO}>", 250)
	assert_nothing_relayed(a, b, settle=0.5)


def test_outside_relay_refused_under_starttls_too(relay_pair):
	a, b = relay_pair()
	with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("STARTTLS", 220)
		c.starttls()
		c.ehlo()
		for rcpt in TRICKS:
			try_relay(c, rcpt)
	assert_nothing_relayed(a, b)


def test_smtplib_outside_client_refused(relay_pair):
	a, b = relay_pair()
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10,
	    source_address=(OUTSIDE, 0)) as s:
		with pytest.raises(smtplib.SMTPRecipientsRefused) as ei:
			s.sendmail(SENDER, [BOB], make_message(rcpt=BOB))
		code, text = ei.value.recipients[BOB]
		assert code == 554 and text.startswith(b"5.7.1"), (code, text)
	assert_nothing_relayed(a, b, settle=0.5)


def test_unauthenticated_submission_relays_nothing(relay_pair):
	"""On the submission port a client must authenticate first: 530 at
	MAIL, before any recipient is looked at."""
	a, b = relay_pair()
	for source in (OUTSIDE, None):
		c, _ = submission_client(a, source=source)
		with c:
			code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
			assert code == 530 and enh(lines) == "5.7.0", lines
	assert_nothing_relayed(a, b, settle=0.5)


def test_default_trusted_network_relays_to_other_server(relay_pair):
	a, b = relay_pair()
	msg = make_message("from the trusted network", rcpt=BOB, sender=DEMO)
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10) as s:
		s.sendmail(DEMO, [BOB], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO,
	    tls=True)


def test_trusted_networks_cidr_makes_outside_trusted(relay_pair):
	a, b = relay_pair({"relay": {"trusted_networks": "127.0.0.0/8"}})
	msg = make_message("from 127.0.0.2, now trusted", rcpt=BOB)
	with smtplib.SMTP("127.0.0.1", a.smtp_port, timeout=10,
	    source_address=(OUTSIDE, 0)) as s:
		s.sendmail(SENDER, [BOB], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=SENDER)


def test_trusted_networks_list_replaces_the_default(relay_pair):
	"""trusted_networks = 127.0.0.2/32, ::1: 127.0.0.2 may relay, and
	127.0.0.1 (no longer listed) may not."""
	a, b = relay_pair({"relay": {"trusted_networks": "127.0.0.2/32, ::1"}})
	with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{BOB}>", 250)
	with RawSMTP(a.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		code, lines = c.cmd(f"RCPT TO:<{BOB}>")
		assert code == 554 and enh(lines) == "5.7.1", lines


def test_authenticated_outside_client_relays(relay_pair):
	"""An outside client that authenticates on submission may relay."""
	a, b = relay_pair()
	msg = make_message("submitted from outside", rcpt=BOB, sender=DEMO)
	c, _ = submission_client(a, source=OUTSIDE)
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


def test_smtplib_submissions_from_outside_relays(relay_pair):
	a, b = relay_pair()
	msg = make_message("smtplib over 465", rcpt=BOB, sender=DEMO)
	with smtplib.SMTP_SSL("127.0.0.1", a.submissions_port, timeout=10,
	    source_address=(OUTSIDE, 0), context=tls_client_context()) as s:
		s.login(DEMO, DEMO_PW)
		s.sendmail(DEMO, [BOB], msg)
	check_delivered(b.wait_delivered(1, user=BOB)[0], msg, sender=DEMO)


def test_relay_off_account_relays_nothing(relay_pair):
	"""relay=off: the authenticated account gets 554 5.7.1 for every
	remote recipient and every trick, but local mail still goes."""
	a, b = relay_pair()
	a.ctl("account", "set", DEMO, "relay=off")
	c, _ = submission_client(a, source=OUTSIDE)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		code, lines = c.cmd(f"RCPT TO:<{BOB}>")
		assert code == 554 and enh(lines) == "5.7.1", lines
		c.expect("RSET", 250)
		for rcpt in TRICKS:
			try_relay(c, rcpt, sender=DEMO)
		msg = make_message("local is fine", sender=DEMO)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	check_delivered(a.wait_delivered(1)[0], msg, sender=DEMO)
	assert_nothing_relayed(a, b, settle=0.5)


def test_relay_on_again_after_relay_off(relay_pair):
	a, b = relay_pair()
	a.ctl("account", "set", DEMO, "relay=off")
	a.ctl("account", "set", DEMO, "relay=on")
	c, _ = submission_client(a, source=OUTSIDE)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect(f"RCPT TO:<{BOB}>", 250)


def test_failed_auth_does_not_grant_relay(relay_pair):
	a, b = relay_pair()
	c, _ = submission_client(a, source=OUTSIDE)
	with c:
		code, lines = c.cmd(
		    f"AUTH PLAIN {plain_response(DEMO, 'wrong-pw')}")
		assert code == 535, lines
		code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
		assert code == 530, lines
	assert_nothing_relayed(a, b, settle=0.5)


@pytest.mark.parametrize("section,key,value,ok", [
    ("relay", "trusted_networks", "127.0.0.0/8, ::1/128, 10.0.0.0/8", True),
    ("relay", "trusted_networks", "", True),
    ("relay", "trusted_networks", "127.0.0.300/8", False),
    ("relay", "trusted_networks", "127.0.0.0/33", False),
    ("relay", "trusted_networks", "localhost", False),
    ("auth", "cleartext_loopback", "yes", True),
    ("auth", "cleartext_loopback", "perhaps", False),
])
def test_relay_and_auth_keys_checked(moat_binaries, moat_user, section, key,
    value, ok):
	srv = MoatServer({section: {key: value}})
	try:
		r = subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
		    capture_output=True, text=True, timeout=20)
	finally:
		srv.cleanup(keep=False)
	if ok:
		assert r.returncode == 0, r.stderr
	else:
		assert r.returncode != 0, f"[{section}] {key} = {value!r} accepted"
		assert key in r.stderr, r.stderr
