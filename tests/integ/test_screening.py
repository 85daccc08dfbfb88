"""Client screening against a real moatd: dynamic bans from failed logins
(SMTP, IMAP, POP3), unknown recipients, honeypot names; bans on every
service, their expiry, doubling, persistence and the admin's ban commands;
exemptions (trusted networks, allow rules, nat_exempt); static allow/deny
rules by IP, rDNS name, HELO, sender and recipient, reloaded while the
server runs; DNS blocklists through tests/dns/dnsserver.py; shadow modes;
and the references of refusals with moatctl log rejected / log show.

Remote clients are played from other loopback addresses (127.0.0.2 and
up); 127.0.0.1 is in the default trusted networks."""
import calendar
import concurrent.futures
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (DEMO, HOSTNAME, OUTSIDE, REPO, Closed, RawSMTP,
    free_ports, plain_response, wait_until)

DNSSERVER = REPO / "tests" / "dns" / "dnsserver.py"

REF = rb"\[ref [0-9A-Z]{8}\]"
HOST = re.escape(HOSTNAME.encode())


def ban_line_re(ip, reason):
	"""The SMTP 421 of a ban: hostname, address, minutes, reason, ref."""
	return re.compile(rb"^421 4\.7\.0 " + HOST + rb" " +
	    re.escape(ip.encode()) + rb" is blocked for \d+ more minutes? \(" +
	    reason + rb"[^)]*\) " + REF + rb"$")


def ban_text_re(prefix, ip, reason):
	"""IMAP BYE / POP3 -ERR of a ban."""
	return re.compile(re.escape(prefix) + rb".*" + re.escape(ip.encode()) +
	    rb" is blocked.*\(" + reason + rb"[^)]*\) " + REF + rb"$")


# --------------------------------------------------------------------------
# Servers and clients
# --------------------------------------------------------------------------

def screen_server(make_server, overrides=None, start=True):
	"""A server with SMTP, submission, IMAP and POP3 listeners and
	cleartext logins on loopback."""
	p_imap, p_pop3 = free_ports(2)
	ov = {"listen": {"imap": f"127.0.0.1:{p_imap}",
	    "pop3": f"127.0.0.1:{p_pop3}"},
	    "auth": {"cleartext_loopback": "yes"}}
	for sec, kv in (overrides or {}).items():
		ov.setdefault(sec, {}).update(kv)
	srv = make_server(ov, start=False)
	srv.imap_port = p_imap
	srv.pop3_port = p_pop3
	if start:
		srv.start()
	return srv


class Lines:
	"""A line client for IMAP and POP3 from a given source address."""

	def __init__(self, port, source, timeout=10.0):
		self.sock = socket.create_connection(("127.0.0.1", port),
		    timeout=timeout, source_address=(source, 0))
		self.buf = b""

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	def send(self, line):
		self.sock.sendall(line.encode() + b"\r\n")

	def line(self, timeout=None):
		if timeout is not None:
			self.sock.settimeout(timeout)
		for _ in range(10000):
			i = self.buf.find(b"\r\n")
			if i >= 0:
				ln, self.buf = self.buf[:i], self.buf[i + 2:]
				return ln
			try:
				chunk = self.sock.recv(65536)
			except ConnectionResetError:
				chunk = b""
			if not chunk:
				raise Closed("connection closed by server")
			self.buf += chunk
		raise AssertionError("line loop bound")

	def eof(self, timeout=3.0):
		"""True when the server closes within timeout (no more lines)."""
		self.sock.settimeout(timeout)
		try:
			for _ in range(1000):
				try:
					chunk = self.sock.recv(65536)
				except ConnectionResetError:
					return True
				if not chunk:
					return True
				self.buf += chunk
		except socket.timeout:
			return False
		return False


def smtp_greeting(port, source):
	"""The greeting's (code, lines) and whether the server then closed;
	(None, [], True) when it closed without a greeting."""
	with RawSMTP(port, source=source, timeout=10) as c:
		try:
			code, lines = c.reply()
		except (Closed, ConnectionResetError):
			return None, [], True
		closed = c.expect_eof(timeout=0.3 if code == 220 else 3)
		return code, lines, closed


def imap_first(srv, source):
	with Lines(srv.imap_port, source) as c:
		try:
			first = c.line()
		except Closed:
			return None, True
		return first, c.eof(0.3 if first.startswith(b"* OK") else 3)


def pop3_first(srv, source):
	with Lines(srv.pop3_port, source) as c:
		try:
			first = c.line()
		except Closed:
			return None, True
		return first, c.eof(0.3 if first.startswith(b"+OK") else 3)


def assert_open_everywhere(srv, source):
	"""Normal greetings on SMTP, submission, IMAP and POP3."""
	for port in (srv.smtp_port, srv.submission_port):
		code, lines, closed = smtp_greeting(port, source)
		assert code == 220 and not closed, (source, port, lines)
	first, closed = imap_first(srv, source)
	assert first is not None and first.startswith(b"* OK") and \
	    not closed, (source, first)
	first, closed = pop3_first(srv, source)
	assert first is not None and first.startswith(b"+OK") and \
	    not closed, (source, first)


def assert_banned_everywhere(srv, source, reason):
	"""A banned address is refused by every service with the ban's
	text and a reference, and the connection is closed."""
	rx = ban_line_re(source, reason)
	for port in (srv.smtp_port, srv.submission_port):
		code, lines, closed = smtp_greeting(port, source)
		assert code == 421, (source, port, lines)
		assert len(lines) == 1 and rx.match(lines[0]), lines
		assert closed, f"{source}: session not closed after {lines!r}"
	first, closed = imap_first(srv, source)
	assert first is not None and ban_text_re(b"* BYE [UNAVAILABLE] ",
	    source, reason).match(first), first
	assert closed, first
	first, closed = pop3_first(srv, source)
	assert first is not None and ban_text_re(b"-ERR [SYS/PERM] ",
	    source, reason).match(first), first
	assert closed, first


# ---- login attempts, one per connection -----------------------------------
#
# Each returns (outcome, detail): "refused" (banned at connect), "failed"
# (the normal failure reply, the session goes on), "banned" (the normal
# failure reply, then the ban reply and the end of the session), "ok".

def smtp_login(srv, user, password, source=OUTSIDE):
	c = RawSMTP(srv.submission_port, source=source, timeout=15)
	try:
		try:
			code, lines = c.reply()
		except (Closed, ConnectionResetError):
			return "refused", []
		if code == 421:
			return "refused", lines
		assert code == 220, lines
		c.ehlo()
		code, lines = c.cmd("AUTH PLAIN " +
		    plain_response(user, password))
		if code == 235:
			return "ok", lines
		assert code == 535, lines
		assert re.search(REF + rb"$", lines[-1]), lines
		# The ban reply follows at once; a failure leaves the session
		# waiting for the next command.
		c.sock.settimeout(0.7)
		try:
			code2, lines2 = c.reply()
		except socket.timeout:
			return "failed", lines
		except (Closed, ConnectionResetError):
			return "closed", lines
		assert code2 == 421, lines2
		assert c.expect_eof(3), "session not closed after the ban"
		return "banned", lines + lines2
	finally:
		c.close()


def imap_login(srv, user, password, source=OUTSIDE):
	c = Lines(srv.imap_port, source, timeout=15)
	try:
		try:
			first = c.line()
		except Closed:
			return "refused", []
		if first.startswith(b"* BYE"):
			return "refused", [first]
		assert first.startswith(b"* OK"), first
		c.send(f'a1 LOGIN "{user}" "{password}"')
		got = []
		for _ in range(20):
			ln = c.line()
			got.append(ln)
			if ln.startswith(b"a1 "):
				break
		if got[-1].startswith(b"a1 OK"):
			return "ok", got
		assert got[-1].startswith(b"a1 NO"), got
		try:
			nxt = c.line(timeout=0.7)
		except socket.timeout:
			return "failed", got
		except Closed:
			return "closed", got
		assert nxt.startswith(b"* BYE [UNAVAILABLE]"), nxt
		assert c.eof(3), "session not closed after the ban"
		return "banned", got + [nxt]
	finally:
		c.close()


def pop3_login(srv, user, password, source=OUTSIDE):
	c = Lines(srv.pop3_port, source, timeout=15)
	try:
		try:
			first = c.line()
		except Closed:
			return "refused", []
		if first.startswith(b"-ERR"):
			return "refused", [first]
		assert first.startswith(b"+OK"), first
		c.send(f"USER {user}")
		ln = c.line()
		assert ln.startswith(b"+OK"), ln
		c.send(f"PASS {password}")
		ln = c.line()
		if ln.startswith(b"+OK"):
			return "ok", [ln]
		assert ln.startswith(b"-ERR"), ln
		try:
			nxt = c.line(timeout=0.7)
		except socket.timeout:
			return "failed", [ln]
		except Closed:
			return "closed", [ln]
		assert nxt.startswith(b"-ERR [SYS/PERM]"), nxt
		assert c.eof(3), "session not closed after the ban"
		return "banned", [ln, nxt]
	finally:
		c.close()


def parallel(calls, width=25):
	"""Run the thunks in parallel (failed logins are answered after a
	delay); results in order."""
	with concurrent.futures.ThreadPoolExecutor(width) as ex:
		futs = [ex.submit(f) for f in calls]
		return [f.result(timeout=60) for f in futs]


def outcomes(results):
	return [r[0] for r in results]


# ---- bans and the rejected log ---------------------------------------------

def bans(srv):
	"""moatctl ban list as rows of 8 fields."""
	out = srv.ctl("ban", "list").stdout
	rows = [ln.split("\t") for ln in out.splitlines() if ln.strip()]
	for row in rows:
		assert len(row) == 8, row
	return rows


def ban_of(srv, key):
	rows = [r for r in bans(srv) if r[0] == "ip" and r[1] == key]
	assert len(rows) <= 1, rows
	return rows[0] if rows else None


def iso(t):
	return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))


def rejected(srv, *args):
	out = srv.ctl("log", "rejected", *args).stdout
	rows = [ln.split("\t") for ln in out.splitlines() if ln.strip()]
	for row in rows:
		assert len(row) == 13, row
	return rows


def smtp_session(srv, source, port=None):
	c = RawSMTP(port or srv.smtp_port, source=source, timeout=10)
	c.greeting()
	c.ehlo()
	return c


def unknown_rcpts(srv, source, n, start=0):
	"""One session sending n unknown recipients. Returns the replies read
	and whether the server ended the session: a 421 (which follows the
	reply of the RCPT that banned, before the answer to the next
	command) is the last reply kept."""
	replies = []
	with smtp_session(srv, source) as c:
		c.expect("MAIL FROM:<flood@client.example.org>", 250)
		for i in range(start, start + n):
			try:
				replies.append(c.cmd(
				    f"RCPT TO:<nobody{i}@example.test>"))
			except (Closed, ConnectionResetError):
				return replies, True
			if replies[-1][0] == 421:
				assert c.expect_eof(3), replies[-1]
				return replies, True
		return replies, False


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

class DNSServer:
	def __init__(self, path, zone_text):
		path.write_text(zone_text)
		self.proc = subprocess.Popen(["/usr/bin/python3", str(DNSSERVER),
		    "--port", "0", "--zone", str(path)], stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, text=True)
		line = self.proc.stdout.readline().split()
		if line[:1] != ["ready"]:
			self.stop()
			raise AssertionError(f"dnsserver did not start: {line}")
		self.port = int(line[1])

	def stop(self):
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(timeout=5)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()


@pytest.fixture
def dns_zone(tmp_path):
	started = []

	def factory(text):
		d = DNSServer(tmp_path / f"z{len(started)}.zone", text)
		started.append(d)
		return d

	yield factory
	for d in started:
		d.stop()


def dns_config(d):
	return {"resolver": f"127.0.0.1:{d.port}", "timeout": "2000"}


# --------------------------------------------------------------------------
# Failed logins
# --------------------------------------------------------------------------

LOGINS = (smtp_login, imap_login, pop3_login)


def test_failed_logins_ban_on_every_service_then_expire(make_server):
	"""25 failed logins with different passwords (SMTP AUTH, IMAP LOGIN
	and POP3 mixed) from one address: the 21st trips auth_fail = 20/1m;
	the address is then refused by SMTP, submission, IMAP and POP3 while
	another address is served; the ban lasts ban_time, then it lifts."""
	srv = screen_server(make_server, {"dynamic": {"ban_time": "6s",
	    "ban_max": "1m"}})
	res = parallel([lambda i=i: LOGINS[i % 3](srv, DEMO, f"wrong-{i}")
	    for i in range(25)])
	got = outcomes(res)
	# Exactly 20 failures are under the limit; every later one is either
	# the one that banned (normal reply, then the ban) or refused at
	# connect.
	assert got.count("failed") == 20, got
	assert got.count("banned") >= 1, got
	assert got.count("failed") + got.count("banned") + \
	    got.count("refused") == 25, res
	for kind, lines in res:
		if kind == "banned":
			assert re.search(rb"is blocked for \d+ more minutes? "
			    rb"\(auth_fail[^)]*\) " + REF + rb"$", lines[-1]), lines

	assert_banned_everywhere(srv, OUTSIDE, rb"auth_fail")
	assert_open_everywhere(srv, "127.0.0.3")
	row = ban_of(srv, OUTSIDE)
	assert row is not None, bans(srv)
	assert "auth_fail" in row[2], row
	assert row[7] == "", row
	assert [r for r in bans(srv) if r[1] != OUTSIDE] == []

	# The ban expires after ban_time.
	t0 = time.monotonic()
	ok = wait_until(lambda: smtp_greeting(srv.smtp_port, OUTSIDE)[0] ==
	    220, 12, interval=0.5)
	assert ok, f"ban of {OUTSIDE} still on after {time.monotonic() - t0}s"
	assert_open_everywhere(srv, OUTSIDE)
	assert ban_of(srv, OUTSIDE) is None, bans(srv)


def test_same_wrong_password_counts_once(make_server):
	"""A phone retrying one stale password 30 times is not banned, though
	30 different passwords would be (auth_fail = 20/1m)."""
	srv = screen_server(make_server)
	res = parallel([lambda i=i: LOGINS[i % 3](srv, DEMO, "stale-password")
	    for i in range(30)], width=15)
	assert outcomes(res) == ["failed"] * 30, res
	assert_open_everywhere(srv, OUTSIDE)
	assert bans(srv) == []


def test_same_wrong_password_counts_exactly_once(make_server):
	"""With auth_fail = 1/1m, one stale password retried 20 times over
	new connections (any worker, any service) is one event: no ban. A
	second, different password is the second event and bans."""
	srv = screen_server(make_server, {"dynamic": {"auth_fail": "1/1m"}})
	res = parallel([lambda i=i: LOGINS[i % 3](srv, DEMO, "stale-password")
	    for i in range(20)], width=10)
	assert outcomes(res) == ["failed"] * 20, (outcomes(res), bans(srv),
	    re.findall(r"worker\d+\[\d+\] info: (?:auth service|screen "
	    r"event=ban).*", srv.log_text())[:6])
	assert bans(srv) == []
	kind, lines = smtp_login(srv, DEMO, "another-wrong-one")
	assert kind == "banned", (kind, lines)
	assert ban_of(srv, OUTSIDE) is not None


def test_honeypot_login_bans_at_once(make_server):
	"""One login as a honeypot name bans: admin@example.test over SMTP,
	the bare name "test" over IMAP."""
	srv = screen_server(make_server, {"dynamic": {
	    "honeypots": "admin, test"}})
	kind, lines = smtp_login(srv, "admin@example.test", "whatever1")
	assert kind == "banned", (kind, lines)
	assert re.search(rb"\(honeypot[^)]*\) " + REF + rb"$", lines[-1]), lines
	kind, lines = imap_login(srv, "test", "whatever2", source="127.0.0.3")
	assert kind == "banned", (kind, lines)
	for ip in (OUTSIDE, "127.0.0.3"):
		row = ban_of(srv, ip)
		assert row is not None and "honeypot" in row[2], bans(srv)
	assert_banned_everywhere(srv, OUTSIDE, rb"honeypot")
	# An ordinary failed login is no honeypot.
	assert smtp_login(srv, DEMO, "wrong", source="127.0.0.4")[0] == \
	    "failed"
	assert ban_of(srv, "127.0.0.4") is None


def test_nat_exempt_network_not_banned_for_its_domain(make_server):
	"""nat_exempt = example.test=127.0.0.5/32: failed logins of
	example.test users from there do not count against the address;
	those of other domains still do."""
	src = "127.0.0.5"
	srv = screen_server(make_server, {"dynamic": {
	    "nat_exempt": "example.test=127.0.0.5/32"}})
	res = parallel([lambda i=i: LOGINS[i % 3](srv, DEMO, f"wrong-{i}",
	    source=src) for i in range(25)])
	assert outcomes(res) == ["failed"] * 25, res
	assert ban_of(srv, src) is None, bans(srv)
	assert_open_everywhere(srv, src)
	# Not exempt: a user of another domain from the same address.
	res = parallel([lambda i=i: smtp_login(srv, "someone@catchall.test",
	    f"guess-{i}", source=src) for i in range(21)])
	got = outcomes(res)
	assert got.count("failed") == 20 and got.count("banned") == 1, got
	assert ban_of(srv, src) is not None


def test_auth_fail_shadow_mode(make_server):
	"""auth_fail_mode = shadow: crossing the limit refuses nothing, but
	the would-be ban is a rejected-log row marked shadow and a shadow
	entry in ban list."""
	srv = screen_server(make_server, {"dynamic": {"auth_fail": "3/1m",
	    "auth_fail_mode": "shadow"}})
	res = parallel([lambda i=i: LOGINS[i % 2](srv, DEMO, f"wrong-{i}")
	    for i in range(6)])
	assert outcomes(res) == ["failed"] * 6, res
	assert_open_everywhere(srv, OUTSIDE)
	row = ban_of(srv, OUTSIDE)
	assert row is not None, bans(srv)
	assert "auth_fail" in row[2] and row[7] == "shadow", row

	def shadow_rows():
		return [r for r in rejected(srv, "--ip", OUTSIDE)
		    if r[12] == "shadow" and "auth_fail" in r[9]]
	got = wait_until(shadow_rows, 5)
	assert got, rejected(srv)


# --------------------------------------------------------------------------
# Unknown recipients
# --------------------------------------------------------------------------

def test_unknown_recipients_default_limit(make_server):
	"""The default unknown_rcpt = 100/1m: 100 unknown recipients over
	three sessions are refused one by one, the 101st bans."""
	srv = screen_server(make_server, {"limits": {"errors": "60",
	    "commands": "1000"}})
	for first, n in ((0, 40), (40, 40)):
		replies, ended = unknown_rcpts(srv, OUTSIDE, n, start=first)
		assert not ended
		assert all(code == 550 for code, _ in replies), replies
	replies, ended = unknown_rcpts(srv, OUTSIDE, 25, start=80)
	assert [code for code, _ in replies[:20]] == [550] * 20, replies
	# The 101st: its own 550 5.1.1, then the ban, and the end.
	assert ended and len(replies) == 22, replies
	code, lines = replies[20]
	assert code == 550 and lines[0].startswith(b"550 5.1.1 "), lines
	assert re.search(REF + rb"$", lines[0]), lines
	code, lines = replies[21]
	assert code == 421 and ban_line_re(OUTSIDE, rb"unknown_rcpt").match(
	    lines[0]), lines
	row = ban_of(srv, OUTSIDE)
	assert "unknown_rcpt" in row[2] and row[3] == "101", row
	assert_banned_everywhere(srv, OUTSIDE, rb"unknown_rcpt")
	assert_open_everywhere(srv, "127.0.0.3")


def test_unknown_recipient_ban_reply(make_server):
	"""unknown_rcpt = 5/1m: the 6th unknown recipient gets 550 5.1.1 with
	a reference, then 421 4.7.0 naming the ban, and the session ends."""
	srv = screen_server(make_server, {"dynamic": {"unknown_rcpt": "5/1m"},
	    "limits": {"errors": "50"}})
	with smtp_session(srv, OUTSIDE) as c:
		c.expect("MAIL FROM:<flood@client.example.org>", 250)
		for i in range(5):
			c.expect(f"RCPT TO:<nobody{i}@example.test>", 550)
		code, lines = c.cmd("RCPT TO:<nobody5@example.test>")
		assert code == 550 and re.match(rb"^550 5\.1\.1 .*" + REF + rb"$",
		    lines[0]), lines
		code, lines = c.reply()
		assert code == 421 and ban_line_re(OUTSIDE,
		    rb"unknown_rcpt").match(lines[0]), lines
		assert c.expect_eof(3)
	assert_banned_everywhere(srv, OUTSIDE, rb"unknown_rcpt")


def test_allow_listed_and_trusted_never_banned(make_server):
	"""The flood that bans 127.0.0.2 bans neither an allow-listed address
	(screen allow add ip 127.0.0.4) nor trusted 127.0.0.1."""
	srv = screen_server(make_server, {"dynamic": {"unknown_rcpt": "5/1m",
	    "auth_fail": "5/1m"}, "limits": {"errors": "50"}}, start=False)
	srv.ctl("screen", "allow", "add", "ip", "127.0.0.4")
	srv.start()
	for src in ("127.0.0.4", "127.0.0.1"):
		replies, ended = unknown_rcpts(srv, src, 12)
		assert not ended and [c for c, _ in replies] == [550] * 12, \
		    (src, replies)
		res = parallel([lambda i=i: smtp_login(srv, DEMO, f"w{i}",
		    source=src) for i in range(8)])
		assert outcomes(res) == ["failed"] * 8, (src, res)
		assert ban_of(srv, src) is None, bans(srv)
		code, lines, closed = smtp_greeting(srv.smtp_port, src)
		assert code == 220 and not closed, (src, lines)
	assert bans(srv) == []
	# The same flood from an ordinary address bans it.
	replies, ended = unknown_rcpts(srv, OUTSIDE, 12)
	assert ended and [c for c, _ in replies] == [550] * 6 + [421], replies
	assert ban_of(srv, OUTSIDE) is not None


# --------------------------------------------------------------------------
# Administration of bans
# --------------------------------------------------------------------------

def test_ban_add_del_on_running_server(make_server):
	"""moatctl ban add / del change what a running server does at once;
	ban list shows kind, key, reason, count, offences, start, until,
	shadow flag."""
	srv = screen_server(make_server)
	ip = "127.0.0.11"
	assert_open_everywhere(srv, ip)
	t0 = int(time.time())
	r = srv.ctl("ban", "add", ip, "10m", "manual test ban")
	assert r.stdout.strip() == f"banned {ip}", r.stdout
	assert_banned_everywhere(srv, ip, rb"manual test ban")
	row = ban_of(srv, ip)
	assert row is not None, bans(srv)
	kind, key, reason, count, offences, start, until, shadow = row
	assert (kind, key, reason, shadow) == ("ip", ip, "manual test ban",
	    ""), row
	assert count.isdigit() and offences.isdigit(), row
	assert t0 - 1 <= iso(start) <= int(time.time()) + 1, row
	assert iso(until) - iso(start) == 600, row
	assert_open_everywhere(srv, "127.0.0.12")

	r = srv.ctl("ban", "del", ip)
	assert r.stdout.strip() == f"unbanned {ip}", r.stdout
	assert_open_everywhere(srv, ip)
	assert ban_of(srv, ip) is None
	r = srv.ctl("ban", "del", ip, check=False)
	assert r.returncode == 1 and "not banned" in r.stderr, r

	# Default duration: a day; "forever": never expires.
	srv.ctl("ban", "add", ip)
	row = ban_of(srv, ip)
	assert iso(row[6]) - iso(row[5]) == 86400 and row[2] == "admin", row
	srv.ctl("ban", "add", "127.0.0.12", "forever")
	assert ban_of(srv, "127.0.0.12")[6] == "never"
	code, lines, _ = smtp_greeting(srv.smtp_port, "127.0.0.12")
	assert code == 421 and re.match(rb"^421 4\.7\.0 " + HOST +
	    rb" 127\.0\.0\.12 is blocked \(admin\) " + REF + rb"$",
	    lines[0]), lines
	r = srv.ctl("ban", "add", "not-an-ip", check=False)
	assert r.returncode == 2, r


def test_ban_add_network(make_server):
	"""ban add ADDR/PREFIX bans the clients inside that network; with
	aggregate_v4 = 24 a ban earned by one address covers its /24."""
	srv = screen_server(make_server)
	srv.ctl("ban", "add", "127.0.0.64/26", "5m", "bad network")
	code, lines, _ = smtp_greeting(srv.smtp_port, "127.0.0.65")
	assert code == 421, (
	    f"127.0.0.65 inside the banned 127.0.0.64/26 got {lines!r}; "
	    f"ban list: {bans(srv)!r}")
	code, lines, _ = smtp_greeting(srv.smtp_port, "127.0.0.63")
	assert code == 220, lines


def test_aggregate_v4_bans_the_prefix(make_server):
	srv = screen_server(make_server, {"dynamic": {"aggregate_v4": "24",
	    "unknown_rcpt": "2/1m"}, "limits": {"errors": "50"}})
	replies, ended = unknown_rcpts(srv, OUTSIDE, 5)
	assert ended and [c for c, _ in replies] == [550] * 3 + [421], replies
	rows = bans(srv)
	assert [r[1] for r in rows] == ["127.0.0.0/24"], rows
	code, lines, _ = smtp_greeting(srv.smtp_port, "127.0.0.77")
	assert code == 421, lines
	# Trusted 127.0.0.1 inside the /24 is still served.
	code, lines, _ = smtp_greeting(srv.smtp_port, "127.0.0.1")
	assert code == 220, lines


def test_bans_survive_restart(make_server):
	"""Bans live in <data_dir>/screen.map: after a restart the admin's
	ban and an earned one still refuse."""
	srv = screen_server(make_server, {"dynamic": {"honeypots": "admin"}})
	srv.ctl("ban", "add", "127.0.0.12", "1h", "kept")
	assert smtp_login(srv, "admin@example.test", "x1")[0] == "banned"
	before = sorted(bans(srv))
	assert sorted(r[1] for r in before) == sorted([OUTSIDE,
	    "127.0.0.12"]), before
	srv.stop()
	assert (srv.data_dir / "screen.map").exists()
	srv.start()
	assert sorted(bans(srv)) == before
	assert_banned_everywhere(srv, "127.0.0.12", rb"kept")
	assert_banned_everywhere(srv, OUTSIDE, rb"honeypot")
	assert_open_everywhere(srv, "127.0.0.13")


def test_repeat_offender_ban_doubles(make_server):
	"""A second ban of the same address lasts twice as long."""
	srv = screen_server(make_server, {"dynamic": {"unknown_rcpt": "1/1m",
	    "ban_time": "2s", "ban_max": "1h"}, "limits": {"errors": "50"}})
	replies, ended = unknown_rcpts(srv, OUTSIDE, 4)
	assert ended and [c for c, _ in replies] == [550, 550, 421], replies
	first = ban_of(srv, OUTSIDE)
	assert first is not None
	assert iso(first[6]) - iso(first[5]) == 2 and first[4] == "0", first
	assert wait_until(lambda: smtp_greeting(srv.smtp_port, OUTSIDE)[0] ==
	    220, 8, interval=0.3), "first ban did not expire"
	replies, ended = unknown_rcpts(srv, OUTSIDE, 4, start=10)
	assert ended and [c for c, _ in replies] == [550, 421], replies
	second = ban_of(srv, OUTSIDE)
	assert second is not None, bans(srv)
	assert second[4] == "1", second	# earlier bans
	assert iso(second[6]) - iso(second[5]) == 4, (first, second)


# --------------------------------------------------------------------------
# Static rules
# --------------------------------------------------------------------------

def refused_554(port, source):
	code, lines, closed = smtp_greeting(port, source)
	return code == 554 and closed and re.match(rb"^554 5\.7\.1 " + HOST +
	    rb" access denied " + REF + rb"$", lines[0]) is not None


def test_ip_rules_apply_while_running(make_server):
	"""deny ip 127.0.0.6/32 added to a running server refuses that address
	at connect within 2 s (554 5.7.1 with a reference), others are
	served; deleting the rule lifts it within 2 s."""
	srv = screen_server(make_server)
	ip = "127.0.0.6"
	assert smtp_greeting(srv.smtp_port, ip)[0] == 220
	srv.ctl("screen", "deny", "add", "ip", f"{ip}/32")
	t0 = time.monotonic()
	assert wait_until(lambda: refused_554(srv.smtp_port, ip), 2.5,
	    interval=0.1), smtp_greeting(srv.smtp_port, ip)
	assert time.monotonic() - t0 <= 2.5
	assert refused_554(srv.submission_port, ip)
	first, closed = imap_first(srv, ip)
	assert first is not None and re.match(rb"^\* BYE \[UNAVAILABLE\] .*"
	    + REF + rb"$", first) and closed, first
	first, closed = pop3_first(srv, ip)
	assert first is not None and first.startswith(b"-ERR") and \
	    re.search(REF + rb"$", first) and closed, first
	assert_open_everywhere(srv, "127.0.0.2")
	# A static refusal is not a ban.
	assert bans(srv) == []
	srv.ctl("screen", "deny", "del", "ip", f"{ip}/32")
	assert wait_until(lambda: smtp_greeting(srv.smtp_port, ip)[0] == 220,
	    2.5, interval=0.1), smtp_greeting(srv.smtp_port, ip)
	assert_open_everywhere(srv, ip)


def test_ip_rule_per_service_and_allow_beats_deny(make_server):
	srv = screen_server(make_server, start=False)
	srv.ctl("screen", "deny", "add", "ip", "127.0.0.13", "--service",
	    "imap")
	srv.ctl("screen", "deny", "add", "ip", "127.0.0.16/30")
	srv.ctl("screen", "allow", "add", "ip", "127.0.0.17")
	srv.start()
	first, closed = imap_first(srv, "127.0.0.13")
	assert first is not None and first.startswith(
	    b"* BYE [UNAVAILABLE]") and closed, first
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.13")
	assert code == 220 and not closed, lines
	first, _ = pop3_first(srv, "127.0.0.13")
	assert first.startswith(b"+OK"), first
	# 127.0.0.16/30: .16-.19 denied except allow-listed .17.
	assert refused_554(srv.smtp_port, "127.0.0.18")
	assert refused_554(srv.smtp_port, "127.0.0.16")
	assert_open_everywhere(srv, "127.0.0.17")
	assert smtp_greeting(srv.smtp_port, "127.0.0.20")[0] == 220


def test_helo_sender_rcpt_rules(make_server):
	srv = screen_server(make_server, start=False)
	srv.ctl("screen", "deny", "add", "helo", "bad.helo.example")
	srv.ctl("screen", "deny", "add", "sender", "@spam.example")
	srv.ctl("screen", "deny", "add", "rcpt", "demo@example.test",
	    "--domain", "example.test")
	srv.start()
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		code, lines = c.cmd("EHLO bad.helo.example")
		assert code == 550 and re.match(rb"^550 5\.7\.1 .*" + REF + rb"$",
		    lines[0]), lines
		c.ehlo("good.helo.example")
		code, lines = c.cmd("MAIL FROM:<someone@spam.example>")
		assert code == 550 and re.match(rb"^550 5\.7\.1 .*" + REF + rb"$",
		    lines[0]), lines
		c.expect("MAIL FROM:<someone@fine.example>", 250)
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code == 550 and re.match(rb"^550 5\.7\.1 .*" + REF + rb"$",
		    lines[0]), lines
		# Another local recipient passes.
		c.expect("RCPT TO:<postmaster@example.test>", 250)
	# The rows name the rules.
	rows = wait_until(lambda: len(rejected(srv, "--ip", OUTSIDE)) >= 3 and
	    rejected(srv, "--ip", OUTSIDE), 5)
	assert rows, rejected(srv)
	rules = sorted(r[9] for r in rows)
	assert any("helo" in r and "bad.helo.example" in r for r in rules), \
	    rules
	assert any("sender" in r and "@spam.example" in r for r in rules), \
	    rules
	assert any("rcpt" in r and "demo@example.test" in r for r in rules), \
	    rules
	# Another address with a clean HELO and sender is served.
	with RawSMTP(srv.smtp_port, source="127.0.0.3") as c:
		c.greeting()
		c.ehlo("good.helo.example")
		c.expect("MAIL FROM:<someone@ok.example>", 250)


# --------------------------------------------------------------------------
# rDNS host rules and DNS blocklists through a DNS server
# --------------------------------------------------------------------------

RDNS_ZONE = """\
$ORIGIN dyn.example.
$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
host7 A 127.0.0.7
host14 A 192.0.2.14
7.0.0.127.in-addr.arpa. PTR host7.dyn.example.
14.0.0.127.in-addr.arpa. PTR host14.dyn.example.
"""


def test_rdns_host_rule(make_server, dns_zone):
	"""deny host *.dyn.example refuses a client whose PTR name is under
	it, at connect; a client without PTR is served. With fcrdns = yes a
	name whose A record does not lead back to the client is not used."""
	d = dns_zone(RDNS_ZONE)
	srv = screen_server(make_server, {"dns": dns_config(d),
	    "server": {"log_level": "debug"}}, start=False)
	srv.ctl("screen", "deny", "add", "host", "*.dyn.example")
	srv.start()

	def why():
		return (smtp_greeting(srv.smtp_port, "127.0.0.7"),
		    re.findall(r".*in-addr\.arpa.*", srv.log_text()))
	assert refused_554(srv.smtp_port, "127.0.0.7"), why()
	# Without fcrdns the PTR name alone decides.
	assert refused_554(srv.smtp_port, "127.0.0.14"), \
	    smtp_greeting(srv.smtp_port, "127.0.0.14")
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.8")
	assert code == 220 and not closed, lines
	rows = wait_until(lambda: rejected(srv, "--ip", "127.0.0.7"), 5)
	assert rows and rows[0][3] == "host7.dyn.example" and \
	    "*.dyn.example" in rows[0][9], rows

	srv.stop()
	srv.config["screen"] = {"fcrdns": "yes"}
	srv.write_config()
	srv.start()
	assert refused_554(srv.smtp_port, "127.0.0.7"), \
	    smtp_greeting(srv.smtp_port, "127.0.0.7")
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.14")
	assert code == 220 and not closed, lines
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.8")
	assert code == 220 and not closed, lines


BL_ZONE = """\
$ORIGIN bl.example.
$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
9.0.0.127 A 127.0.0.2
9.0.0.127 TXT "listed for testing"
"""


def test_dnsbl_enforce_and_shadow(make_server, dns_zone):
	d = dns_zone(BL_ZONE)
	srv = screen_server(make_server, {"dns": dns_config(d),
	    "screen": {"dnsbl": "bl.example:5", "dnsbl_reject": "5",
	    "dnsbl_loopback": "yes"}})
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.9")
	assert code == 554 and closed and re.match(rb"^554 5\.7\.1 " + HOST +
	    rb" .*127\.0\.0\.9.*" + REF + rb"$", lines[0]), lines
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.10")
	assert code == 220 and not closed, lines
	rows = wait_until(lambda: rejected(srv, "--ip", "127.0.0.9"), 5)
	assert rows and rows[0][8] == "554" and "dnsbl" in rows[0][9] and \
	    rows[0][12] == "", rows

	srv.stop()
	srv.config["screen"]["dnsbl_mode"] = "shadow"
	srv.write_config()
	srv.start()
	code, lines, closed = smtp_greeting(srv.smtp_port, "127.0.0.9")
	assert code == 220 and not closed, lines

	def shadow_rows():
		return [r for r in rejected(srv, "--ip", "127.0.0.9")
		    if r[12] == "shadow"]
	rows = wait_until(shadow_rows, 5)
	assert rows and "dnsbl" in rows[0][9], rejected(srv)
	assert len(rejected(srv, "--ip", "127.0.0.10")) == 0


# --------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------

def test_references_log_rejected_and_show(make_server):
	srv = screen_server(make_server, {"dynamic": {"unknown_rcpt": "2/1m"},
	    "limits": {"errors": "50"}})
	with smtp_session(srv, OUTSIDE) as c:
		c.expect("MAIL FROM:<a@client.example.org>", 250)
		code, lines = c.cmd("RCPT TO:<nobody@example.test>")
		assert code == 550
		m = re.search(rb" \[ref ([0-9A-Z]{8})\]$", lines[-1])
		assert m, lines
		ref = m.group(1).decode()
		c.expect("RCPT TO:<nobody2@example.test>", 550)
		code, lines = c.cmd("RCPT TO:<nobody3@example.test>")
		assert code == 550
		code, lines = c.reply()
		assert code == 421, lines
		m = re.search(rb" \[ref ([0-9A-Z]{8})\]$", lines[-1])
		assert m, lines
		ban_ref = m.group(1).decode()

	def rows():
		return rejected(srv, "--ip", OUTSIDE)
	got = wait_until(lambda: len(rows()) >= 4 and rows(), 5)
	assert got, rows()
	assert ref in [r[11] for r in got], got
	# --rule ban: only the ban's refusal.
	banned = rejected(srv, "--rule", "ban")
	assert banned and all(r[9].startswith("ban") and "unknown_rcpt" in
	    r[9] for r in banned), banned
	assert [r[8] for r in banned] == ["421"], banned
	assert banned[0][11] == ban_ref
	assert all(not r[9].startswith("ban") for r in got
	    if r[8] == "550"), got

	out = srv.ctl("log", "show", ref).stdout
	trace_lines = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} [a-z_-]+: .+$", re.M)
	assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} connect: ip=127\.0\.0\.2 "
	    r"service=smtp$", out, re.M), out
	assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} unknown_rcpt: 127\.0\.0\.2: "
	    r"1 in 60s \(limit 2\)$", out, re.M), out
	assert len(trace_lines.findall(out)) >= 4, out
	assert re.search(r"^refused: .*nobody@example\.test", out, re.M), out
	tail = out.split("to allow:\n", 1)
	assert len(tail) == 2, out
	assert "moatctl screen allow add ip 127.0.0.2" in tail[1], out

	out = srv.ctl("log", "show", ban_ref).stdout
	assert "moatctl ban del 127.0.0.2" in out.split("to allow:", 1)[-1], \
	    out
	r = srv.ctl("log", "show", "ZZZZ0000", check=False)
	assert r.returncode == 1 and r.stdout == "", r
