"""SMTP server behaviour with well-behaved clients: greeting, EHLO, the
commands, reply codes with enhanced status codes, delivery into Maildir
byte-identical, aliases, BDAT, pipelining and SMTPUTF8."""
import re
import smtplib
import socket

import pytest

from conftest import (DEMO, ENH_RE, HOSTNAME, OUTSIDE, RawSMTP, check_delivered,
    make_message)

SENDER = "alice@client.example.org"


def smtp(srv, port=None):
	return smtplib.SMTP("127.0.0.1", port or srv.smtp_port,
	    local_hostname="client.example.org", timeout=10)


def ehlo_keywords(lines):
	return {ln.split()[0].upper(): ln for ln in lines if ln.strip()}


def test_greeting_is_220_with_hostname(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		lines = c.greeting()
		assert HOSTNAME.encode() in lines[0], lines


def test_ehlo_advertises_extensions(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.send("EHLO client.example.org\r\n")
		code, lines = c.reply()
		assert code == 250
		assert HOSTNAME.encode() in lines[0], lines
		kw = ehlo_keywords([ln[4:].decode() for ln in lines[1:]])
		for ext in ("PIPELINING", "SIZE", "8BITMIME",
		    "ENHANCEDSTATUSCODES", "STARTTLS", "SMTPUTF8", "CHUNKING"):
			assert ext in kw, f"{ext} not advertised: {lines!r}"
		m = re.fullmatch(r"SIZE (\d+)", kw["SIZE"])
		assert m, f"SIZE without a number: {kw['SIZE']!r}"
		assert int(m.group(1)) == 1024 * 1024, kw["SIZE"]


def test_helo_then_message_delivered(moat_server):
	msg = make_message("via HELO")
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		code, lines = c.cmd("HELO client.example.org")
		assert code == 250, lines
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
		c.expect("QUIT", 221)
	(data,) = moat_server.wait_delivered(1)
	check_delivered(data, msg, sender=SENDER, tls=False)


def test_smtplib_message_is_delivered_byte_identical(moat_server):
	body = (
	    "first line\r\n"
	    ".a line that starts with a dot\r\n"
	    "..two dots\r\n"
	    ".\tdot tab\r\n"
	    " . space dot\r\n"
	    "\r\n"
	    "trailing spaces   \r\n"
	    + "x" * 990 + "\r\n"
	    "last line\r\n")
	msg = make_message("byte identical", body)
	with smtp(moat_server) as s:
		refused = s.sendmail(SENDER, [DEMO], msg)
		assert refused == {}
	(data,) = moat_server.wait_delivered(1)
	text = check_delivered(data, msg, sender=SENDER, tls=False)
	assert HOSTNAME in text, f"Received lacks our hostname: {text!r}"
	assert "127.0.0.1" in text, f"Received lacks the client IP: {text!r}"
	assert len(moat_server.maildir_files()) == 1


def test_several_messages_in_one_session(moat_server):
	msgs = [make_message(f"msg {i}", f"body {i}\r\n") for i in range(3)]
	with smtp(moat_server) as s:
		for m in msgs:
			assert s.sendmail(SENDER, [DEMO], m) == {}
	got = moat_server.wait_delivered(3)
	assert len(got) == 3
	for m in msgs:
		assert sum(1 for d in got if d.endswith(m)) == 1


def test_replies_carry_enhanced_status_codes(moat_server):
	# From outside the trusted networks, so the relay attempt is refused.
	cmds = [
	    ("NOOP", 250),
	    ("HELP", 214),
	    ("VRFY demo", 252),
	    (f"MAIL FROM:<{SENDER}>", 250),
	    ("RCPT TO:<nobody@example.test>", 550),
	    ("RCPT TO:<x@other.example>", 554),
	    (f"RCPT TO:<{DEMO}>", 250),
	    ("RSET", 250),
	    ("DATA", 503),
	    ("FROBNICATE", 500),
	    ("QUIT", 221),
	]
	with RawSMTP(moat_server.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		for line, want in cmds:
			code, lines = c.cmd(line)
			assert code == want, f"{line}: {lines!r}"
			for ln in lines:
				assert ENH_RE.match(ln), \
				    f"{line}: reply without enhanced code: {ln!r}"


def test_vrfy_and_expn_reveal_nothing(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		replies = {}
		for line in ("VRFY demo", f"VRFY <{DEMO}>", "VRFY nosuchuser",
		    "EXPN postmaster", "EXPN nosuchlist"):
			code, lines = c.cmd(line)
			assert code == 252, f"{line}: {lines!r}"
			assert ENH_RE.match(lines[0]), lines
			for ln in lines:
				assert b"demo" not in ln.lower(), \
				    f"{line} revealed a user: {lines!r}"
			replies[line] = lines
		# Existing and non-existing names must look the same.
		assert replies["VRFY demo"] == replies["VRFY nosuchuser"]
		assert replies["EXPN postmaster"] == replies["EXPN nosuchlist"]


def test_unknown_local_user_is_550_5_1_1(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		code, lines = c.cmd("RCPT TO:<nosuchuser@example.test>")
		assert code == 550 and lines[0].startswith(b"550 5.1.1"), lines
		# Case-insensitive domain matching still finds the account.
		code, lines = c.cmd("RCPT TO:<demo@EXAMPLE.test>")
		assert code == 250, lines


def test_relay_attempt_is_554_5_7_1(moat_server):
	with RawSMTP(moat_server.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		# At most 4 rejections per session: errors = 5 in the config.
		for rcpt in ("user@other.example", "demo@example.test.evil.example",
		    "demo%example.test@other.example"):
			code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
			assert code == 554 and lines[0].startswith(b"554 5.7.1"), \
			    f"{rcpt}: {lines!r}"
		c.expect("DATA", 503)


def test_too_many_recipients_is_452_4_5_3(make_server):
	srv = make_server()
	with RawSMTP(srv.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		for i in range(10):
			code, lines = c.cmd(f"RCPT TO:<u{i}@catchall.test>")
			assert code == 250, f"rcpt {i}: {lines!r}"
		for i in range(10, 12):
			code, lines = c.cmd(f"RCPT TO:<u{i}@catchall.test>")
			assert code == 452 and lines[0].startswith(b"452 4.5.3"), \
			    f"rcpt {i} past the limit: {lines!r}"
		c.expect("DATA", 354)
		msg = make_message("ten recipients")
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	# All ten resolve to demo through the catch-all.
	got = srv.wait_delivered(1)
	assert all(d.endswith(msg) for d in got)


def test_message_size_limit(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		kw = ehlo_keywords(c.ehlo())
		limit = int(kw["SIZE"].split()[1])
		# Without SIZE= the server must read to the end and then say 552.
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		line = b"y" * 998 + b"\r\n"
		big = make_message("too big", line * (limit // len(line) + 50))
		assert len(big) > limit
		c.send(big + b".\r\n")
		code, lines = c.reply()
		assert code == 552, lines
		too_big_reply = lines
		# Session stays in sync and usable.
		c.expect("NOOP", 250)
		# A message just under the limit is accepted.
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		ok = make_message("fits", line * ((limit - 4096) // len(line)))
		assert len(ok) < limit
		c.send(ok + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	got = moat_server.wait_delivered(1)
	assert len(got) == 1 and got[0].endswith(ok)
	assert re.match(rb"552 5\.(3\.4|2\.3) ", too_big_reply[0]), \
	    f"malformed 552 reply: {too_big_reply!r}"


def test_size_parameter_too_big_rejected_at_mail(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		code, lines = c.cmd(f"MAIL FROM:<{SENDER}> SIZE=2000000")
		assert code == 552 and re.match(rb"552 5\.(3\.4|2\.3) ",
		    lines[0]), lines
		code, lines = c.cmd(f"MAIL FROM:<{SENDER}> SIZE=1000")
		assert code == 250, lines
	# smtplib declares SIZE= itself: refused as a sender.
	with smtp(moat_server) as s:
		with pytest.raises(smtplib.SMTPSenderRefused) as ei:
			s.sendmail(SENDER, [DEMO], b"x" * (1024 * 1024 + 10))
		assert ei.value.smtp_code == 552


def test_unknown_command_is_500_5_5_1(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		code, lines = c.cmd("FROBNICATE now")
		assert code == 500 and lines[0].startswith(b"500 5.5.1"), lines
		c.expect("NOOP", 250)


def test_bad_sequence_is_503_5_5_1(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code == 503 and lines[0].startswith(b"503 5.5.1"), lines
		code, lines = c.cmd("DATA")
		assert code == 503 and lines[0].startswith(b"503 5.5.1"), lines
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		code, lines = c.cmd("DATA")
		assert code == 503 and lines[0].startswith(b"503 5.5.1"), \
		    f"DATA before RCPT: {lines!r}"
		# RFC 3030: the chunk is read (and discarded) even when refused.
		c.send(b"BDAT 5 LAST\r\nhello")
		code, lines = c.reply()
		assert code == 503, f"BDAT before RCPT: {lines!r}"
		c.expect("NOOP", 250)


def test_rset_resets_the_transaction(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		lines = c.expect("RSET", 250)
		assert lines[0].startswith(b"250 2.0.0"), lines
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code == 503, f"RCPT after RSET: {lines!r}"
		code, lines = c.cmd("DATA")
		assert code == 503, f"DATA after RSET: {lines!r}"
		# A fresh transaction works after RSET.
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		msg = make_message("after rset")
		c.send(msg + b".\r\n")
		assert c.reply()[0] == 250
	(data,) = moat_server.wait_delivered(1)
	assert data.endswith(msg)


def test_noop_help_quit(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		lines = c.expect("NOOP", 250)
		assert lines[0].startswith(b"250 2.0.0"), lines
		c.expect("HELP", 214)
		lines = c.expect("QUIT", 221)
		assert lines[0].startswith(b"221 2.0.0"), lines
		assert c.expect_eof(5), "server did not close after QUIT"


def test_bdat_chunking(moat_server):
	part1 = (b"From: a@client.example.org\r\nTo: demo@example.test\r\n"
	    b"Subject: bdat\r\n\r\n")
	part2 = b".this line starts with a dot and is not stuffed\r\n"
	part3 = b"0123456\r\n"
	assert len(part3) == 9
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}> BODY=8BITMIME", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		for chunk, last in ((part1, False), (part2, False), (part3, True)):
			c.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n"
			    .encode() + chunk)
			code, lines = c.reply()
			assert code == 250, lines
			assert ENH_RE.match(lines[0]), lines
		# BDAT 10 LAST in one write, as a single small message.
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.send(b"BDAT 10 LAST\r\nhi there\r\n")
		code, lines = c.reply()
		assert code == 250, lines
		c.expect("NOOP", 250)
	got = moat_server.wait_delivered(2)
	assert len(got) == 2
	whole = part1 + part2 + part3
	assert sum(1 for d in got if d.endswith(whole)) == 1, got
	assert sum(1 for d in got if d.endswith(b"\nhi there\r\n")) == 1, got
	for d in got:
		if d.endswith(whole):
			check_delivered(d, whole, sender=SENDER)


def test_bdat_then_data_is_rejected(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.send(b"BDAT 4\r\nab\r\n")
		assert c.reply()[0] == 250
		code, lines = c.cmd("DATA")
		assert code == 503, f"DATA after BDAT: {lines!r}"


def test_pipelined_commands_answered_in_order(moat_server):
	msg = make_message("pipelined")
	with RawSMTP(moat_server.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.send(f"MAIL FROM:<{SENDER}>\r\n"
		    f"RCPT TO:<{DEMO}>\r\n"
		    "RCPT TO:<nosuchuser@example.test>\r\n"
		    "RCPT TO:<user@other.example>\r\n"
		    "DATA\r\n")
		codes = [c.reply()[0] for _ in range(5)]
		assert codes == [250, 250, 550, 554, 354], codes
		# Message, then more commands, all in one write.
		c.send(msg + b".\r\nNOOP\r\nMAIL FROM:<" + SENDER.encode()
		    + b">\r\nRSET\r\nQUIT\r\n")
		codes = [c.reply()[0] for _ in range(5)]
		assert codes == [250, 250, 250, 250, 221], codes
	got = moat_server.wait_delivered(1)
	assert len(got) == 1 and got[0].endswith(msg)


def test_smtputf8(moat_server):
	sender = "jöran@bücher.example"
	msg = ("From: Jöran <jöran@bücher.example>\r\n"
	    "To: demo@example.test\r\n"
	    "Subject: Grüße aus Köln — 日本語\r\n"
	    "Message-ID: <utf8@integ.test>\r\n"
	    "\r\n"
	    "Größenordnung: 100 €\r\n").encode()
	with smtp(moat_server) as s:
		s.ehlo()
		assert s.has_extn("smtputf8")
		refused = s.sendmail(sender, [DEMO], msg,
		    mail_options=["SMTPUTF8", "BODY=8BITMIME"])
		assert refused == {}
	(data,) = moat_server.wait_delivered(1)
	check_delivered(data, msg)
	assert "Grüße aus Köln — 日本語".encode() in data


def test_8bit_body_without_smtputf8(moat_server):
	msg = make_message("8bit", bytes(range(0x80, 0x100)) + b"\r\n"
	    + "naïve café\r\n".encode("latin-1"))
	with smtp(moat_server) as s:
		assert s.sendmail(SENDER, [DEMO], msg,
		    mail_options=["BODY=8BITMIME"]) == {}
	(data,) = moat_server.wait_delivered(1)
	check_delivered(data, msg)


def test_null_sender_accepted(moat_server):
	msg = make_message("bounce")
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		assert c.reply()[0] == 250
	(data,) = moat_server.wait_delivered(1)
	assert data.startswith(b"Return-Path: <>")


def test_alias_and_catchall_deliver_to_account(moat_server):
	m1 = make_message("to postmaster", rcpt="postmaster@example.test")
	m2 = make_message("to catch-all", rcpt="whoever@catchall.test")
	with smtp(moat_server) as s:
		assert s.sendmail(SENDER, ["postmaster@example.test"], m1) == {}
		assert s.sendmail(SENDER, ["Whoever@CatchAll.test"], m2) == {}
	got = moat_server.wait_delivered(2)
	assert len(got) == 2
	assert sum(d.endswith(m1) for d in got) == 1
	assert sum(d.endswith(m2) for d in got) == 1


def test_same_mailbox_twice_in_one_message_is_delivered_once(moat_server):
	msg = make_message("dup rcpts")
	with smtp(moat_server) as s:
		assert s.sendmail(SENDER, [DEMO, "postmaster@example.test",
		    "demo@example.test"], msg) == {}
	got = moat_server.wait_delivered(1, settle=1.5)
	assert len(got) == 1, f"delivered {len(got)} copies to one mailbox"


def test_ipv6_loopback_listener(make_server):
	try:
		with socket.socket(socket.AF_INET6) as s:
			s.bind(("::1", 0))
	except OSError as e:
		pytest.fail(f"::1 not usable on this host: {e}")
	from conftest import free_port
	p6 = free_port("::1")
	srv = make_server(start=False)
	srv.config["listen"]["smtp"] += f",[::1]:{p6}"
	srv.write_config()
	srv.start()
	s = socket.create_connection(("::1", p6), timeout=5)
	try:
		assert s.recv(512).startswith(b"220")
	finally:
		s.close()


def test_relay_battery_from_outside_relays_nothing(moat_server):
	"""Local-part tricks never turn into relaying: only the domain after
	the last '@' decides, and it must be ours (or the recipient must
	exist). Every one of these is refused from an outside client."""
	tricks = [
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
	]
	accepted = []
	for rcpt in tricks:
		with RawSMTP(moat_server.smtp_port, source=OUTSIDE) as c:
			c.greeting()
			c.ehlo()
			c.expect(f"MAIL FROM:<{SENDER}>", 250)
			code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
			if code == 250:
				accepted.append(rcpt)
			else:
				assert code in (501, 550, 553, 554), (rcpt, lines)
	assert accepted == []


def test_trusted_network_may_relay(moat_server):
	"""127.0.0.1 is in the default trusted_networks: RCPT to another
	domain is accepted there (and refused from 127.0.0.2 above)."""
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect("RCPT TO:<user@other.example>", 250)
		c.expect("RSET", 250)
