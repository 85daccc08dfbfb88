"""Hostile and broken clients: SMTP smuggling with bare LF/CR, data pipelined
behind STARTTLS, overlong lines, error floods, idle and slow clients, abrupt
disconnects, recipient floods. After each, the server must still answer."""
import socket
import struct
import threading
import time

import pytest

from conftest import Closed as Closed_
from conftest import DEMO, ENH_RE, RawSMTP, make_message

SENDER = "mallory@client.example.org"


def still_serving(srv):
	"""A fresh session gets a greeting and a NOOP answer."""
	with RawSMTP(srv.smtp_port) as c:
		c.greeting()
		c.expect("NOOP", 250)


def start_data(c):
	c.greeting()
	c.ehlo()
	c.expect(f"MAIL FROM:<{SENDER}>", 250)
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.expect("DATA", 354)


SMUGGLED = (b"MAIL FROM:<admin@example.test>\r\n"
    b"RCPT TO:<demo@example.test>\r\n"
    b"DATA\r\n"
    b"Subject: SMUGGLED\r\n\r\nsmuggled body\r\n")

# Fake terminators: none of these is CRLF.CRLF, so none ends the data.
FAKE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-cr": b"\r.\r",
}


@pytest.mark.parametrize("name", list(FAKE_ENDS))
def test_smuggling_fake_end_of_data_is_not_honoured(moat_server, name):
	fake = FAKE_ENDS[name]
	head = (b"From: mallory@client.example.org\r\nTo: demo@example.test\r\n"
	    b"Subject: carrier\r\n\r\nfirst part")
	with RawSMTP(moat_server.smtp_port) as c:
		start_data(c)
		# Everything up to the real CRLF.CRLF is one (bad) message.
		c.send(head + fake + SMUGGLED + b"\r\n.\r\n")
		code, lines = c.reply()
		assert 500 <= code < 600, \
		    f"{name}: expected a 5xx after the real end of data, got {lines!r}"
		data_reply = lines
		# Exactly one reply: the next one answers our NOOP.
		code, lines = c.cmd("NOOP")
		assert code == 250, f"{name}: out of sync after DATA: {lines!r}"
		# A legitimate message on the same session still goes through.
		good = make_message("legit after smuggling attempt")
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(good + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	got = moat_server.wait_delivered(1, settle=1.5)
	assert len(got) == 1, f"{name}: {len(got)} messages delivered: " + \
	    repr([g[-200:] for g in got])
	assert got[0].endswith(good)
	for g in got:
		assert b"SMUGGLED" not in g and b"carrier" not in g
	# Checked last so that a format slip does not hide the above.
	assert ENH_RE.match(data_reply[0]), \
	    f"{name}: malformed reply (RFC 3463 code expected): {data_reply!r}"


@pytest.mark.parametrize("bad", [b"bare\nLF in a line", b"bare\rCR in a line"],
    ids=["bare-lf", "bare-cr"])
def test_bare_lf_or_cr_in_data_rejected(moat_server, bad):
	msg = make_message("bare", b"ok line\r\n" + bad + b"\r\nmore\r\n")
	with RawSMTP(moat_server.smtp_port) as c:
		start_data(c)
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert 500 <= code < 600, lines
		c.expect("NOOP", 250)
	time.sleep(1.5)
	assert moat_server.maildir_files() == []
	assert ENH_RE.match(lines[0]), \
	    f"malformed reply (RFC 3463 code expected): {lines!r}"


def test_data_pipelined_behind_starttls_is_discarded(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		exts = c.ehlo()
		assert "STARTTLS" in exts
		c.send(b"STARTTLS\r\nMAIL FROM:<a@b.example>\r\n")
		code, lines = c.reply()
		assert code == 220, lines
		# Anything the server sent in plaintext after the 220 would be
		# in the buffer now or arrive before the handshake.
		c.sock.settimeout(0.5)
		try:
			extra = c.sock.recv(4096)
		except (socket.timeout, TimeoutError):
			extra = b""
		c.sock.settimeout(5)
		assert extra == b"" and c.buf == b"", \
		    f"server answered the injected command in plaintext: {extra!r}"
		c.starttls()
		c.send(b"EHLO client.example.org\r\n")
		code, lines = c.reply()
		assert code == 250, \
		    f"first reply after handshake is not the EHLO reply: {lines!r}"
		assert lines[0].startswith(b"250-") or lines[0].startswith(b"250 ")
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code == 503, \
		    f"injected MAIL was executed (RCPT accepted): {lines!r}"
		c.expect("NOOP", 250)


def test_overlong_command_line_is_500(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		code, lines = c.cmd(b"NOOP " + b"A" * 600)
		assert code == 500 and lines[0].startswith(b"500 5.5."), lines
		# The rest of the long line must not be taken as a command.
		c.expect("NOOP", 250)
		long_mail = b"MAIL FROM:<" + b"a" * 600 + b"@client.example.org>"
		code, lines = c.cmd(long_mail)
		assert code == 500, lines
		c.expect("NOOP", 250)
		# Hidden command at the tail of an overlong line: not executed.
		code, lines = c.cmd(b"X" * 600 + b"QUIT")
		assert code == 500, lines
		c.expect("NOOP", 250)


def test_huge_line_without_newline_is_bounded(moat_server):
	"""1 MB without CRLF: the server must not buffer without bound; it
	replies 500 (or closes) and keeps serving others."""
	with RawSMTP(moat_server.smtp_port, timeout=10) as c:
		c.greeting()
		try:
			c.send(b"A" * (1024 * 1024))
			c.send(b"\r\n")
		except (BrokenPipeError, ConnectionResetError):
			pass
		try:
			code, lines = c.reply()
			assert code in (500, 421), lines
		except Exception as e:		# closed: also acceptable
			assert "closed" in str(e) or isinstance(e, OSError), e
	still_serving(moat_server)


def test_overlong_data_line_rejected(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		start_data(c)
		c.send(make_message("long line", b"z" * 5000 + b"\r\n") + b".\r\n")
		code, lines = c.reply()
		assert 500 <= code < 600, lines
		c.expect("NOOP", 250)
	time.sleep(1)
	assert moat_server.maildir_files() == []


def test_too_many_errors_421_and_close(moat_server):
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		replies = []
		for i in range(20):
			try:
				code, lines = c.cmd(f"BOGUS{i}")
			except (Closed_, OSError) as e:
				replies.append(("closed", str(e)))
				break
			replies.append((code, lines))
			if code == 421:
				break
		codes = [r[0] for r in replies]
		assert 421 in codes, f"no 421 after 20 errors: {replies!r}"
		assert codes.index(421) <= 5, \
		    f"421 came too late (errors = 5): {codes}"
		assert all(cd == 500 for cd in codes[:codes.index(421)]), codes
		_, lines = replies[codes.index(421)]
		assert ENH_RE.match(lines[0]), lines
		assert c.expect_eof(5), "connection not closed after 421"
	still_serving(moat_server)



def test_idle_client_times_out_with_421(moat_server):
	timeout = int(moat_server.config["limits"]["idle_timeout"])
	with RawSMTP(moat_server.smtp_port, timeout=timeout + 5) as c:
		c.greeting()
		t0 = time.monotonic()
		code, lines = c.reply()
		elapsed = time.monotonic() - t0
		assert code == 421 and lines[0].startswith(b"421 4.4.2"), lines
		assert timeout - 0.5 <= elapsed <= timeout + 3, elapsed
		assert c.expect_eof(3), "not closed after idle 421"


def test_partial_command_times_out(moat_server):
	"""Slowloris: a command that never ends still hits the idle timer."""
	timeout = int(moat_server.config["limits"]["idle_timeout"])
	with RawSMTP(moat_server.smtp_port, timeout=timeout + 5) as c:
		c.greeting()
		c.send(b"MAIL FROM:<slow")
		t0 = time.monotonic()
		code, lines = c.reply()
		assert code == 421, lines
		assert time.monotonic() - t0 <= timeout + 3
		assert c.expect_eof(3)


def test_trickling_client_is_cut_off(moat_server):
	"""Slowloris variant: one byte per second never completing a line. The
	server must end the session in bounded time (idle timeout per command,
	not per byte) and keep serving others meanwhile."""
	timeout = int(moat_server.config["limits"]["idle_timeout"])
	with RawSMTP(moat_server.smtp_port, timeout=2) as c:
		c.greeting()
		closed = False
		t0 = time.monotonic()
		for i in range(4 * timeout + 10):
			try:
				c.send(b"A")
				c.sock.settimeout(0.9)
				data = c.sock.recv(1024)
				if not data or data.startswith(b"421"):
					closed = True
					break
			except (socket.timeout, TimeoutError):
				pass
			except OSError:
				closed = True
				break
			if i == 2:
				still_serving(moat_server)
		assert closed, "trickling client never cut off"
		assert time.monotonic() - t0 <= 3 * timeout + 5


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_abrupt_disconnect_mid_data(moat_server, how):
	for i in range(5):
		c = RawSMTP(moat_server.smtp_port)
		start_data(c)
		c.send(make_message(f"partial {i}", b"half a body\r\n" * 100))
		if how == "rst":
			c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
			    struct.pack("ii", 1, 0))
		c.close()
	# Also disconnect in the middle of a BDAT chunk.
	c = RawSMTP(moat_server.smtp_port)
	c.greeting()
	c.ehlo()
	c.expect(f"MAIL FROM:<{SENDER}>", 250)
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.send(b"BDAT 100000 LAST\r\nonly a little")
	c.close()
	still_serving(moat_server)
	good = make_message("complete")
	with RawSMTP(moat_server.smtp_port) as c:
		start_data(c)
		c.send(good + b".\r\n")
		assert c.reply()[0] == 250
	got = moat_server.wait_delivered(1, settle=1.5)
	assert len(got) == 1 and got[0].endswith(good), \
	    "a partial message from a dropped session was delivered"
	assert moat_server.running()


def test_ten_thousand_recipients(moat_server):
	"""10,000 pipelined RCPTs: the server answers in order (250 up to the
	limit, then 452) or ends the session with 421; it never hangs or dies."""
	n = 10000
	c = RawSMTP(moat_server.smtp_port, timeout=10)
	c.greeting()
	c.ehlo()
	c.expect(f"MAIL FROM:<{SENDER}>", 250)
	payload = b"".join(b"RCPT TO:<u%d@catchall.test>\r\n" % i
	    for i in range(n))
	err = []

	def writer():
		try:
			c.sock.sendall(payload)
		except OSError as e:
			err.append(e)
	t = threading.Thread(target=writer, daemon=True)
	t.start()
	codes = []
	try:
		for _ in range(n):
			code, _lines = c.reply()
			codes.append(code)
			if code == 421:
				break
	except Closed_:
		pass
	t.join(30)
	c.close()
	assert codes, "no replies at all"
	assert codes[:10] == [250] * 10, codes[:12]
	rest = codes[10:]
	assert all(cd in (452, 421) for cd in rest), sorted(set(rest))
	if rest and rest[-1] != 421:
		assert len(codes) == n, f"only {len(codes)} replies, no 421"
	still_serving(moat_server)


def test_many_concurrent_idle_connections_do_not_block_others(moat_server):
	socks = []
	try:
		for _ in range(100):
			socks.append(socket.create_connection(
			    ("127.0.0.1", moat_server.smtp_port), timeout=5))
		t0 = time.monotonic()
		still_serving(moat_server)
		assert time.monotonic() - t0 < 3
	finally:
		for s in socks:
			s.close()


def test_garbage_binary_input(moat_server):
	import random
	rng = random.Random(1234)
	for _ in range(5):
		with RawSMTP(moat_server.smtp_port, timeout=5) as c:
			c.greeting()
			try:
				c.send(bytes(rng.randrange(256) for _ in range(4000))
				    + b"\r\nQUIT\r\n")
				for _ in range(50):
					code, _ = c.reply()
					if code in (221, 421):
						break
			except (Closed_, OSError):
				pass
	still_serving(moat_server)
	assert moat_server.running()


def test_refused_bdat_chunk_is_not_executed_as_commands(moat_server):
	"""RFC 3030: a BDAT chunk is read as data even when BDAT is refused;
	its bytes must never be parsed as commands (a smuggling vector)."""
	chunk = b"MAIL FROM:<evil@attacker.example>\r\n"
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
		code, lines = c.reply()
		assert code == 503, f"BDAT before MAIL: {lines!r}"
		# Had the chunk been executed, this RCPT would get 250.
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code == 503, \
		    f"BDAT chunk bytes were executed as a MAIL command: {lines!r}"
		c.expect("NOOP", 250)


def test_refused_bdat_chunk_after_mail_is_not_executed(moat_server):
	"""Same, in the MAIL-but-no-RCPT state."""
	chunk = f"RCPT TO:<{DEMO}>\r\n".encode()
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
		code, lines = c.reply()
		assert code == 503, f"BDAT before RCPT: {lines!r}"
		# Had the chunk been executed as RCPT, DATA would get 354.
		code, lines = c.cmd("DATA")
		assert code == 503, \
		    f"BDAT chunk bytes were executed as an RCPT command: {lines!r}"
		c.expect("NOOP", 250)
