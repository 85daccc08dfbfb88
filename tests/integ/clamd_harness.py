"""A real clamd for integration tests.

Starts Debian's /usr/sbin/clamd (package clamav-daemon) in the foreground as
the invoking user, with a temporary config: a unix socket in a temp dir, TCP
off, and a database directory holding only signatures written here (no
freshclam, no network):

  test.ndb  hex patterns: EICAR's test string (clamd 1.x has no built-in
            EICAR detection: with only custom databases it answers OK to
            EICAR) and a made-up string, CUSTOM_SAMPLE
  test.hdb  the MD5 of HASH_SAMPLE, a whole-file hash signature

ClamAV appends ".UNOFFICIAL" to the names of signatures that do not come
from a signed database, so EICAR is reported as EICAR_NAME, and so on.

	with ClamdHarness() as clamd:
		clamd.address		# "unix:/tmp/moat-clamd.../clamd.sock"
		clamd.startup_seconds	# spawn to first PONG
	# or clamd = ClamdHarness().start(); ...; clamd.stop()

Waits are bounded; only the process started here is signalled, by pid.
The temp dir is 0755 and the socket 0666, so that a moatctl that dropped
privileges to the 'moat' user can connect.
"""
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import make_message

CLAMD = os.environ.get("MOAT_CLAMD_BINARY", "/usr/sbin/clamd")

# The EICAR test file (68 octets, https://www.eicar.org).
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
    b"$H+H*")
EICAR_SIG = "Eicar-Test-Signature"
EICAR_NAME = EICAR_SIG + ".UNOFFICIAL"

# A made-up byte string and the pattern signature that detects it
# anywhere in a file.
CUSTOM_PATTERN = b"MOAT-CUSTOM-TEST-PATTERN-7f3a9c"
CUSTOM_SAMPLE = b"Dear user,\n\nthis file carries " + CUSTOM_PATTERN + \
    b" in the middle of harmless text.\n"
CUSTOM_SIG = "Moat.Test.Custom"
CUSTOM_NAME = CUSTOM_SIG + ".UNOFFICIAL"

# A whole file detected by its MD5 only.
HASH_SAMPLE = b"moat hash-signature sample file, exactly these bytes\n"
HASH_SIG = "Moat.Test.Hash"
HASH_NAME = HASH_SIG + ".UNOFFICIAL"

CLEAN_SAMPLE = b"Hello,\n\nnothing to see here.\n"

START_TIMEOUT = 60.0		# loading a tiny database takes well under 1 s
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 5.0


def available():
	return os.access(CLAMD, os.X_OK)


def ping(path, timeout=IO_TIMEOUT):
	"""True when the clamd on unix socket path answers zPING with PONG."""
	try:
		with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
			s.settimeout(timeout)
			s.connect(path)
			s.sendall(b"zPING\0")
			reply = b""
			while not reply.endswith(b"\0") and len(reply) < 64:
				chunk = s.recv(64)
				if not chunk:
					break
				reply += chunk
			return reply == b"PONG\0"
	except OSError:
		return False


class ClamdHarness:
	def __init__(self, stream_max="10M", base=None):
		self.stream_max = stream_max
		self.base = Path(base or tempfile.mkdtemp(prefix="moat-clamd."))
		os.chmod(self.base, 0o755)
		self.socket = self.base / "clamd.sock"
		self.conf = self.base / "clamd.conf"
		self.db = self.base / "db"
		self.log = self.base / "clamd.log"
		self.proc = None
		self.startup_seconds = None

	@property
	def address(self):
		return f"unix:{self.socket}"

	def _write_config(self):
		self.db.mkdir(exist_ok=True)
		tmp = self.base / "tmp"
		tmp.mkdir(exist_ok=True)
		# name:target:offset:hexsig; target 0 = any file, offset * =
		# anywhere.
		(self.db / "test.ndb").write_text(
		    f"{EICAR_SIG}:0:*:{EICAR.hex()}\n"
		    f"{CUSTOM_SIG}:0:*:{CUSTOM_PATTERN.hex()}\n")
		# md5:size:name
		(self.db / "test.hdb").write_text(
		    f"{hashlib.md5(HASH_SAMPLE).hexdigest()}:"
		    f"{len(HASH_SAMPLE)}:{HASH_SIG}\n")
		self.conf.write_text(
		    f"LocalSocket {self.socket}\n"
		    "LocalSocketMode 666\n"
		    "FixStaleSocket yes\n"
		    "Foreground yes\n"
		    f"DatabaseDirectory {self.db}\n"
		    f"TemporaryDirectory {tmp}\n"
		    f"LogFile {self.log}\n"
		    f"PidFile {self.base / 'clamd.pid'}\n"
		    f"StreamMaxLength {self.stream_max}\n"
		    "MaxThreads 4\n"
		    "SelfCheck 0\n"
		    "Bytecode no\n")

	def start(self):
		if not available():
			raise RuntimeError(f"{CLAMD} is missing: apt-get install "
			    "clamav-daemon")
		self._write_config()
		t0 = time.monotonic()
		with open(self.base / "clamd.stderr", "wb") as err:
			self.proc = subprocess.Popen([CLAMD, "-c", str(self.conf)],
			    stdin=subprocess.DEVNULL, stdout=err, stderr=err)
		deadline = t0 + START_TIMEOUT
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				raise RuntimeError(f"clamd exited with "
				    f"{self.proc.returncode}:\n{self.log_tail()}")
			if self.socket.exists() and ping(str(self.socket)):
				self.startup_seconds = time.monotonic() - t0
				return self
			time.sleep(0.05)
		self.stop()
		raise RuntimeError(f"clamd did not answer PING within "
		    f"{START_TIMEOUT} s:\n{self.log_tail()}")

	def log_tail(self, n=40):
		text = ""
		for p in (self.log, self.base / "clamd.stderr"):
			try:
				text += p.read_text(errors="replace")
			except OSError:
				pass
		return "\n".join(text.splitlines()[-n:])

	def stop(self):
		"""SIGTERM the clamd started here (by pid), SIGKILL if it does
		not exit in time. The socket is gone afterwards."""
		if self.proc is not None and self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(timeout=STOP_TIMEOUT)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait(timeout=STOP_TIMEOUT)
		try:
			self.socket.unlink()
		except FileNotFoundError:
			pass

	def cleanup(self):
		self.stop()
		shutil.rmtree(self.base, ignore_errors=True)

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.cleanup()
		return False


@pytest.fixture
def clamd():
	"""A running clamd with the test signatures, for one test."""
	with ClamdHarness() as c:
		yield c


def with_attachment(subject, payload, name):
	"""A message (bytes) with a text part and payload attached as name,
	base64-encoded: what the antivirus tests send."""
	b64 = base64.encodebytes(payload).decode().replace("\n", "\r\n")
	body = ("--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	    f"--b1\r\nContent-Type: application/octet-stream\r\n"
	    f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
	    f"Content-Transfer-Encoding: base64\r\n\r\n{b64}--b1--\r\n")
	return make_message(subject, body=body, extra_headers=(
	    "MIME-Version: 1.0",
	    'Content-Type: multipart/mixed; boundary="b1"'))
