"""Fixtures for the moat integration suite.

Every test gets its own moatd: a fresh data_dir under /tmp (0755 so that the
unprivileged 'moat' user can traverse it), free loopback ports and a config
with short timeouts. The daemon runs in the foreground with stderr captured to
a log file; the log is attached to the report of any failing test.

Only processes this suite started are ever signalled, always by pid: the
master (our Popen child) and its descendants (found through /proc ppid links),
plus, as a safety net after kill -9 of a master, orphans whose command line
names our own unique config file (children fork from the master without exec,
so they keep its argv).
"""
import base64
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MOAT_BUILD", str(REPO / "build")))
MOATD = BUILD / "moatd"
MOATCTL = BUILD / "moatctl"

HOSTNAME = "mx.example.test"
DOMAIN = "example.test"
DEMO = "demo@example.test"
DEMO_PW = "demo-password-1"

# Enhanced status code (RFC 3463) right after the reply code.
ENH_RE = re.compile(rb"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")

# An outside client: not in [relay] trusted_networks.
OUTSIDE = "127.0.0.2"

# A second site, served by a second moatd in the outbound tests.
OTHER_DOMAIN = "other.test"
OTHER_HOSTNAME = "mx.other.test"
BOB = "bob@other.test"
BOB_PW = "bob-password-1"

# Lines a sanitizer writes to the daemon's stderr.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
    "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

_live_servers = []	# servers started during the current test


# --------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------

# Every port handed out in this pytest process. A server created with
# start=False holds no socket for its ports until it starts, so without
# this record the next free_ports() call may hand the same port to another
# server (seen in CI: A's submission listener took the port B was to get).
_handed_out = set()


def free_ports(n, host="127.0.0.1"):
	"""n distinct free ports never handed out before in this run: all
	sockets are held open until every port is chosen, so the kernel cannot
	hand out the same port twice within the call."""
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	socks = []
	ports = []
	try:
		for _ in range(n + 64):
			if len(ports) == n:
				break
			s = socket.socket(fam, socket.SOCK_STREAM)
			socks.append(s)
			s.bind((host, 0))
			port = s.getsockname()[1]
			if port not in _handed_out:
				ports.append(port)
		if len(ports) != n:
			raise RuntimeError(f"no {n} unused ports on {host}")
		_handed_out.update(ports)
		return ports
	finally:
		for s in socks:
			s.close()


def free_port(host="127.0.0.1"):
	"""A currently free TCP port on host, never handed out before."""
	return free_ports(1, host)[0]


def wait_until(pred, timeout, interval=0.05, what="condition"):
	"""Poll pred() until truthy or timeout; returns the last value."""
	deadline = time.monotonic() + timeout
	while True:
		v = pred()
		if v:
			return v
		if time.monotonic() >= deadline:
			return v
		time.sleep(interval)


def tls_client_context():
	"""Client context without verification (the server cert is self-signed)."""
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	return ctx


def proc_ppid(pid):
	try:
		with open(f"/proc/{pid}/stat", "rb") as f:
			data = f.read()
	except OSError:
		return None
	# comm may contain spaces/parens: the fields after the last ')' are fixed.
	rest = data[data.rindex(b")") + 2:].split()
	return int(rest[1])


def proc_state(pid):
	try:
		with open(f"/proc/{pid}/stat", "rb") as f:
			data = f.read()
	except OSError:
		return None
	return data[data.rindex(b")") + 2:].split()[0].decode()


def pid_alive(pid):
	st = proc_state(pid)
	return st is not None and st != "Z"


def all_pids():
	return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def children_of(pid):
	return [p for p in all_pids() if proc_ppid(p) == pid]


def descendants_of(pid):
	out, todo, seen = [], [pid], set()
	for _ in range(10000):		# bounded walk
		if not todo:
			break
		p = todo.pop()
		for c in children_of(p):
			if c not in seen:
				seen.add(c)
				out.append(c)
				todo.append(c)
	return out


def pids_with_cmdline_arg(arg):
	"""Processes whose argv contains arg exactly (our unique config path)."""
	out = []
	needle = os.fsencode(str(arg))
	for p in all_pids():
		try:
			with open(f"/proc/{p}/cmdline", "rb") as f:
				argv = f.read().split(b"\0")
		except OSError:
			continue
		if needle in argv and pid_alive(p):
			out.append(p)
	return out


def socket_inodes_of(pid):
	out = set()
	try:
		fds = os.listdir(f"/proc/{pid}/fd")
	except OSError:
		return out
	for fd in fds:
		try:
			t = os.readlink(f"/proc/{pid}/fd/{fd}")
		except OSError:
			continue
		m = re.match(r"socket:\[(\d+)\]", t)
		if m:
			out.add(int(m.group(1)))
	return out


def tcp_inode(local_port, remote_port):
	"""Inode of the 127.0.0.1 TCP socket local_port <-> remote_port."""
	for path in ("/proc/net/tcp", "/proc/net/tcp6"):
		try:
			with open(path) as f:
				lines = f.read().splitlines()[1:]
		except OSError:
			continue
		for ln in lines:
			fl = ln.split()
			lp = int(fl[1].rsplit(":", 1)[1], 16)
			rp = int(fl[2].rsplit(":", 1)[1], 16)
			if lp == local_port and rp == remote_port:
				return int(fl[9])
	return None


# --------------------------------------------------------------------------
# Raw SMTP client for tests that must control the bytes on the wire
# --------------------------------------------------------------------------

class Closed(Exception):
	pass


class RawSMTP:
	"""Line-level SMTP client over a plain or TLS socket.

	reply() returns (code, [lines]) where lines are raw bytes without CRLF.
	Every read is bounded by the socket timeout.
	"""

	def __init__(self, port, host="127.0.0.1", timeout=5.0, tls=False,
	    source=None):
		# source: a loopback address other than 127.0.0.1 plays a client
		# outside the trusted networks (only 127.0.0.1 and ::1 by default).
		self.sock = socket.create_connection((host, port), timeout=timeout,
		    source_address=(source, 0) if source else None)
		self.timeout = timeout
		if tls:
			self.sock = tls_client_context().wrap_socket(self.sock)
		self.buf = b""

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.close()

	def send(self, data):
		if isinstance(data, str):
			data = data.encode()
		self.sock.sendall(data)

	def _fill(self):
		chunk = self.sock.recv(65536)
		if not chunk:
			raise Closed("connection closed by server")
		self.buf += chunk

	def readline(self):
		for _ in range(100000):
			i = self.buf.find(b"\r\n")
			if i >= 0:
				line, self.buf = self.buf[:i], self.buf[i + 2:]
				return line
			if len(self.buf) > 100000:
				raise AssertionError("reply line too long")
			self._fill()
		raise AssertionError("readline loop bound")

	def reply(self):
		lines = []
		for _ in range(1000):
			line = self.readline()
			assert re.match(rb"^\d{3}[ -]|^\d{3}$", line), \
			    f"malformed reply line {line!r}"
			lines.append(line)
			if len(line) == 3 or line[3:4] == b" ":
				code = int(line[:3])
				for ln in lines:
					assert int(ln[:3]) == code, \
					    f"mixed codes in one reply: {lines!r}"
				return code, lines
		raise AssertionError("reply has too many lines")

	def cmd(self, line):
		self.send(line + "\r\n" if isinstance(line, str)
		    else line + b"\r\n")
		return self.reply()

	def expect(self, line, code):
		c, lines = self.cmd(line)
		assert c == code, f"{line!r}: expected {code}, got {lines!r}"
		return lines

	def ehlo(self, name="client.example.org"):
		c, lines = self.cmd(f"EHLO {name}")
		assert c == 250, lines
		return [ln[4:].decode("utf-8", "replace") for ln in lines[1:]]

	def greeting(self):
		c, lines = self.reply()
		assert c == 220, lines
		return lines

	def expect_eof(self, timeout=None):
		"""True if the server closes (EOF or reset) within timeout."""
		old = self.sock.gettimeout()
		self.sock.settimeout(timeout if timeout is not None else self.timeout)
		try:
			for _ in range(1000):
				try:
					chunk = self.sock.recv(65536)
				except (ConnectionResetError, BrokenPipeError):
					return True
				if not chunk:
					return True
				self.buf += chunk
			return False
		except socket.timeout:
			return False
		finally:
			self.sock.settimeout(old)

	def starttls(self):
		"""Handshake on the current socket (after a 220 to STARTTLS)."""
		assert self.buf == b"", f"unread data before TLS: {self.buf!r}"
		self.sock = tls_client_context().wrap_socket(self.sock)
		return self.sock


def plain_response(user, password, authzid=""):
	"""The base64 SASL PLAIN message (RFC 4616)."""
	return base64.b64encode(
	    f"{authzid}\0{user}\0{password}".encode()).decode()


def submission_client(srv, implicit=False, source=None, tls=True,
    timeout=10.0):
	"""A RawSMTP on the submission port (587, STARTTLS done unless
	tls=False) or on submissions (465, implicit TLS), greeted and EHLO'd.
	Returns (client, EHLO keywords after the last EHLO)."""
	port = srv.submissions_port if implicit else srv.submission_port
	c = RawSMTP(port, tls=implicit, source=source, timeout=timeout)
	try:
		c.greeting()
		exts = c.ehlo()
		if tls and not implicit:
			c.expect("STARTTLS", 220)
			c.starttls()
			exts = c.ehlo()
	except BaseException:
		c.close()
		raise
	return c, exts


def login_plain(c, user, password):
	"""AUTH PLAIN with an initial response; asserts 235."""
	code, lines = c.cmd(f"AUTH PLAIN {plain_response(user, password)}")
	assert code == 235, lines
	return lines


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------

DEFAULT_CONFIG = {
	"server": {
		"hostname": HOSTNAME,
		"workers": "2",
		"drain_timeout": "2",
	},
	"listen": {},		# filled with free ports
	"tls": {},
	"limits": {
		"message_size": "1M",
		"recipients": "10",
		"line_length": "1000",
		"errors": "5",
		"idle_timeout": "3",
		"commands": "100",
	},
	"queue": {
		"retry_min": "1",
	},
	# Hermetic: no query ever leaves for the machine's resolver. Tests of
	# SPF/DKIM turn these on with [dns] resolver = a test DNS server.
	"authn": {
		"spf": "no",
		"dkim_verify": "no",
	},
	# A small screening map: a few MB per test server, not the
	# production default.
	"dynamic": {
		"table_size": "4096",
	},
}


class MoatServer:
	def __init__(self, overrides=None, with_submission=True):
		self.base = Path(tempfile.mkdtemp(dir="/tmp", prefix="moat-integ-"))
		os.chmod(self.base, 0o755)
		self.data_dir = self.base / "data"
		self.conf = self.base / "moatd.conf"
		self.log_path = self.base / "moatd.log"
		ports = free_ports(3)
		self.smtp_port = ports[0]
		self.submission_port = ports[1] if with_submission else None
		self.submissions_port = ports[2] if with_submission else None
		self.proc = None
		self.known_pids = set()
		self.starts = 0
		cfg = {k: dict(v) for k, v in DEFAULT_CONFIG.items()}
		cfg["server"]["data_dir"] = str(self.data_dir)
		cfg["listen"]["smtp"] = f"127.0.0.1:{self.smtp_port}"
		if with_submission:
			cfg["listen"]["submission"] = \
			    f"127.0.0.1:{self.submission_port}"
			cfg["listen"]["submissions"] = \
			    f"127.0.0.1:{self.submissions_port}"
		for sec, kv in (overrides or {}).items():
			cfg.setdefault(sec, {})
			for k, v in kv.items():
				if v is None:
					cfg[sec].pop(k, None)
				else:
					cfg[sec][k] = v
		self.config = cfg
		self.write_config()

	def write_config(self, path=None):
		text = ""
		for sec, kv in self.config.items():
			text += f"[{sec}]\n"
			for k, v in kv.items():
				text += f"{k} = {v}\n"
			text += "\n"
		(path or self.conf).write_text(text)

	# ---- admin -----------------------------------------------------------

	def ctl(self, *args, input=None, check=True, timeout=30):
		r = subprocess.run([str(MOATCTL), "-c", str(self.conf), *args],
		    input=input, capture_output=True, text=True, timeout=timeout)
		if check:
			assert r.returncode == 0, (
			    f"moatctl {' '.join(args)} exited {r.returncode}\n"
			    f"stdout: {r.stdout}\nstderr: {r.stderr}")
		return r

	def add_account(self, address, password):
		self.ctl("account", "add", address, input=password + "\n")

	def provision_other(self):
		"""The second site: domain other.test with the account bob."""
		self.ctl("domain", "add", OTHER_DOMAIN)
		self.add_account(BOB, BOB_PW)

	def queue_list(self):
		"""moatctl queue list: one list of tab-separated fields per
		queued message."""
		out = self.ctl("queue", "list").stdout
		return [ln.split("\t") for ln in out.splitlines() if ln.strip()]

	def log_count(self, pattern):
		"""Lines of the log matching the regular expression pattern."""
		return len(re.findall(pattern, self.log_text(), re.M))

	def wait_log(self, pattern, timeout=10):
		"""Wait until a log line matches pattern; returns the match (or
		None after timeout)."""
		rx = re.compile(pattern, re.M)
		return wait_until(lambda: rx.search(self.log_text()), timeout)

	def provision(self):
		self.ctl("domain", "add", DOMAIN)
		self.ctl("account", "add", DEMO, input=DEMO_PW + "\n")
		self.ctl("alias", "add", "postmaster@" + DOMAIN, DEMO)
		self.ctl("domain", "add", "catchall.test")
		self.ctl("alias", "add", "@catchall.test", DEMO)

	# ---- process control -------------------------------------------------

	def start(self, timeout=15):
		assert self.proc is None or self.proc.poll() is not None, \
		    "already running"
		self.starts += 1
		with open(self.log_path, "ab") as log:
			log.write(f"\n===== start #{self.starts} =====\n".encode())
			log.flush()
			self.proc = subprocess.Popen(
			    [str(MOATD), "-c", str(self.conf)],
			    stdin=subprocess.DEVNULL, stdout=log, stderr=log)
		self.known_pids.add(self.proc.pid)
		deadline = time.monotonic() + timeout
		last_err = None
		while time.monotonic() < deadline:
			rc = self.proc.poll()
			if rc is not None:
				raise AssertionError(
				    f"moatd exited with {rc} during start-up:\n"
				    + self.log_tail())
			try:
				s = socket.create_connection(
				    ("127.0.0.1", self.smtp_port), timeout=2)
			except OSError as e:
				last_err = e
				time.sleep(0.05)
				continue
			# Wait for the greeting: the port may be bound by the master
			# before a worker is ready to serve.
			try:
				s.settimeout(max(0.5, deadline - time.monotonic()))
				data = s.recv(1024)
			except OSError as e:
				last_err = e
				data = b""
			finally:
				s.close()
			if data.startswith(b"220"):
				self._note_children()
				return self
			time.sleep(0.1)
		raise AssertionError(f"moatd did not answer on {self.smtp_port} "
		    f"within {timeout}s ({last_err}):\n" + self.log_tail())

	@property
	def pid(self):
		return self.proc.pid

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def _note_children(self):
		if self.running():
			self.known_pids.update(descendants_of(self.proc.pid))

	def children(self):
		if not self.running():
			return []
		kids = [p for p in children_of(self.proc.pid) if pid_alive(p)]
		self.known_pids.update(kids)
		return kids

	def our_pids(self):
		"""Every live process that belongs to this server instance."""
		pids = set()
		if self.running():
			pids.add(self.proc.pid)
			pids.update(descendants_of(self.proc.pid))
		pids.update(pids_with_cmdline_arg(self.conf))
		return {p for p in pids if pid_alive(p)}

	def stop(self, timeout=10):
		"""SIGTERM, then SIGKILL after timeout. Returns the exit status."""
		if self.proc is None:
			return None
		if self.proc.poll() is None:
			self._note_children()
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(timeout=timeout)
			except subprocess.TimeoutExpired:
				self.kill_all()
		self._kill_leftovers()
		return self.proc.returncode

	def kill_all(self):
		"""kill -9 the master and every descendant, as a power cut would."""
		if self.proc is None:
			return
		if self.proc.poll() is None:
			# Freeze the master so that it cannot fork a replacement while
			# we collect and kill its children.
			os.kill(self.proc.pid, signal.SIGSTOP)
			victims = set()
			for _ in range(3):
				victims.update(descendants_of(self.proc.pid))
			for p in victims:
				try:
					os.kill(p, signal.SIGKILL)
				except ProcessLookupError:
					pass
			os.kill(self.proc.pid, signal.SIGKILL)
			self.proc.wait(timeout=10)
		self._kill_leftovers()

	def _kill_leftovers(self, timeout=5):
		left = pids_with_cmdline_arg(self.conf)
		for p in left:
			try:
				os.kill(p, signal.SIGKILL)
			except ProcessLookupError:
				pass
		wait_until(lambda: not pids_with_cmdline_arg(self.conf), timeout)

	def cleanup(self, keep):
		try:
			self.stop()
		finally:
			if not keep:
				shutil.rmtree(self.base, ignore_errors=True)

	# ---- files -----------------------------------------------------------

	def log_text(self):
		try:
			return self.log_path.read_text(errors="replace")
		except OSError:
			return ""

	def log_tail(self, n=200):
		lines = self.log_text().splitlines()
		return "\n".join(lines[-n:])

	def maildir(self, user=DEMO):
		local, domain = user.split("@")
		return self.data_dir / "mail" / domain / local / "Maildir"

	def maildir_files(self, user=DEMO, sub="new"):
		d = self.maildir(user) / sub
		try:
			names = sorted(os.listdir(d))
		except FileNotFoundError:
			return []
		return [d / n for n in names if not n.startswith(".")]

	def wait_delivered(self, n, user=DEMO, timeout=10, settle=0.3):
		"""Wait until user has at least n messages in new/; then wait a
		little longer so that a surplus (duplicate) delivery shows up too.
		Returns the list of contents (bytes)."""
		wait_until(lambda: len(self.maildir_files(user)) >= n, timeout)
		if settle:
			time.sleep(settle)
		files = self.maildir_files(user)
		assert len(files) >= n, (
		    f"{user}: expected {n} delivered message(s) within {timeout}s, "
		    f"found {len(files)} in {self.maildir(user) / 'new'}")
		return [f.read_bytes() for f in files]


# --------------------------------------------------------------------------
# Fixtures and hooks
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moat_binaries():
	for b in (MOATD, MOATCTL):
		if not os.access(b, os.X_OK):
			pytest.fail(f"{b} is missing: build it with `make` first "
			    f"(or point MOAT_BUILD at the build directory)")
	return MOATD, MOATCTL


@pytest.fixture(scope="session")
def moat_user():
	"""The unprivileged service user moatd drops to."""
	if os.geteuid() != 0:
		return pwd.getpwuid(os.geteuid()).pw_name
	try:
		pwd.getpwnam("moat")
	except KeyError:
		subprocess.run(["useradd", "--system", "--home-dir",
		    "/var/lib/moat", "--shell", "/usr/sbin/nologin", "moat"],
		    check=True, timeout=30)
	return "moat"


@pytest.fixture
def make_server(request, moat_binaries, moat_user):
	"""Factory: make_server(overrides=None, provision=True, start=True).
	provision may also be a function called with the (stopped) server,
	e.g. MoatServer.provision_other for a second site."""
	made = []

	def factory(overrides=None, provision=True, start=True, **kw):
		srv = MoatServer(overrides, **kw)
		made.append(srv)
		_live_servers.append(srv)
		if callable(provision):
			provision(srv)
		elif provision:
			srv.provision()
		if start:
			srv.start()
		return srv

	yield factory
	failed = any(getattr(request.node, "rep_" + ph, None) is not None
	    and getattr(request.node, "rep_" + ph).failed
	    for ph in ("setup", "call"))
	# Under the sanitizer build a child that hits a memory error aborts
	# and the master restarts it: the test could still pass. The log
	# keeps the report, so any report fails the test here.
	reports = []
	for srv in made:
		text = srv.log_text()
		for marker in SANITIZER_MARKERS:
			if marker in text:
				reports.append((srv.base, srv.log_tail(80)))
				break
	for srv in made:
		srv.cleanup(keep=failed or bool(reports) or
		    bool(os.environ.get("MOAT_KEEP")))
	if reports:
		pytest.fail("sanitizer report in the moatd log:\n" +
		    "\n".join(f"{base}:\n{tail}" for base, tail in reports))


@pytest.fixture
def moat_server(make_server):
	return make_server()


def merge_overrides(*layers):
	"""Overrides dicts combined section by section, later ones winning."""
	out = {}
	for layer in layers:
		for sec, kv in (layer or {}).items():
			out.setdefault(sec, {}).update(kv)
	return out


@pytest.fixture
def make_pair(make_server):
	"""Factory for two sites on loopback:
	make_pair(a_overrides=None, b_overrides=None, start_a=True,
	start_b=True) -> (a, b). b serves other.test (account bob) under the
	hostname mx.other.test; a is the usual example.test server whose
	[transport] sends other.test to b's SMTP port (brackets: no MX
	lookup), with a short connect timeout."""

	def factory(a_overrides=None, b_overrides=None, start_a=True,
	    start_b=True):
		b = make_server(merge_overrides(
		    {"server": {"hostname": OTHER_HOSTNAME}}, b_overrides),
		    provision=MoatServer.provision_other, start=start_b)
		a = make_server(merge_overrides(
		    {"delivery": {"connect_timeout": "2", "smtp_timeout": "10"},
		    "transport": {OTHER_DOMAIN: f"[127.0.0.1]:{b.smtp_port}"}},
		    a_overrides), start=start_a)
		return a, b

	return factory


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
	_live_servers.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
	outcome = yield
	rep = outcome.get_result()
	setattr(item, "rep_" + rep.when, rep)
	if rep.failed and rep.when in ("setup", "call"):
		for srv in _live_servers:
			rep.sections.append((f"moatd log ({srv.base}, kept)",
			    srv.log_tail(150)))


# --------------------------------------------------------------------------
# Message helpers shared by the test modules
# --------------------------------------------------------------------------

def make_message(subject="test", body=None, extra_headers=(), sender=None,
    rcpt=DEMO):
	"""A CRLF-terminated RFC 5322 message as bytes."""
	hdrs = [
	    f"From: {sender or 'sender@client.example.org'}",
	    f"To: {rcpt}",
	    f"Subject: {subject}",
	    f"Message-ID: <{time.monotonic_ns()}.{os.getpid()}@integ.test>",
	    *extra_headers,
	]
	if body is None:
		body = "Hello from the moat integration suite.\r\n"
	if isinstance(body, str):
		body = body.encode()
	return ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body


def check_delivered(data, original, sender=None, tls=None):
	"""Assert data (a delivered Maildir file) is Return-Path + Received
	prepended by moat, followed byte-for-byte by original. Returns the
	prepended header block as text."""
	assert data.endswith(original), (
	    "delivered message does not end with the message as sent "
	    f"(byte-identical body expected).\nsent tail: {original[-200:]!r}\n"
	    f"got tail:  {data[-200:]!r}")
	prefix = data[:len(data) - len(original)]
	assert prefix.startswith(b"Return-Path:"), \
	    f"delivered file does not start with Return-Path:: {data[:300]!r}"
	assert prefix.endswith(b"\n"), f"prepended headers: {prefix!r}"
	lines = prefix.split(b"\n")
	assert re.search(rb"(?m)^Received:", prefix), \
	    f"no Received: header prepended: {prefix!r}"
	# After Return-Path comes moat's Received; a Delivered-To (loop
	# detection, as Postfix's local(8) adds) may sit between them.
	i = 1
	while lines[i].startswith(b"Delivered-To:"):
		i += 1
	assert lines[i].startswith(b"Received:"), \
	    f"Received: does not follow Return-Path: {prefix!r}"
	if sender is not None:
		assert lines[0].rstrip(b"\r").lower() == \
		    f"Return-Path: <{sender}>".encode().lower(), lines[0]
	text = prefix.decode("utf-8", "replace")
	if tls is True:
		assert re.search(r"using TLSv1\.[23] with cipher \S+", text), \
		    f"Received lacks the TLS clause: {text!r}"
	elif tls is False:
		assert "using TLS" not in text, text
	return text
