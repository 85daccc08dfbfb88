"""mutt as a real IMAP client: it logs in over imaps, opens the INBOX and
shows the message delivered over SMTP in its index (headers fetched with
UID FETCH), then logs out. mutt needs a terminal: it runs
on a pseudo-terminal and its screen output is read back."""
import os
import pty
import select
import signal
import smtplib
import time

from conftest import DEMO, DEMO_PW, free_ports, make_message

SUBJECT = "hello-from-mutt-test"


def run_on_pty(argv, home, timeout=30):
	"""Run argv on a pseudo-terminal (mutt wants one); return everything
	it wrote to the screen. Nothing is typed: the keys come from push."""
	pid, fd = pty.fork()
	if pid == 0:
		os.environ.clear()
		os.environ.update({"TERM": "xterm", "HOME": str(home),
		    "PATH": "/usr/bin:/bin", "LINES": "24", "COLUMNS": "100"})
		os.execvp(argv[0], argv)
	out = b""
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		r, _, _ = select.select([fd], [], [], 0.5)
		if not r:
			continue
		try:
			chunk = os.read(fd, 65536)
		except OSError:
			break		# the child closed the terminal
		if not chunk:
			break
		out += chunk
	else:
		os.kill(pid, signal.SIGKILL)
	os.waitpid(pid, 0)
	os.close(fd)
	return out


def test_mutt_reads_mail_over_imaps(make_server, tmp_path):
	(port,) = free_ports(1)
	srv = make_server(overrides={"listen": {"imaps": f"127.0.0.1:{port}"}})
	msg = make_message(SUBJECT)
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.sendmail("a@client.example.org", [DEMO], msg)
	assert len(srv.wait_delivered(1)) == 1
	# Trust moat's self-signed certificate up front, so no prompt eats
	# the pushed keys.
	certs = tmp_path / "certs"
	certs.write_bytes((srv.data_dir / "tls" / "cert.pem").read_bytes())
	rc = tmp_path / "muttrc"
	rc.write_text(
	    f'set folder="imaps://127.0.0.1:{port}/"\n'
	    'set spoolfile="+INBOX"\n'
	    f'set imap_user="{DEMO}"\n'
	    f'set imap_pass="{DEMO_PW}"\n'
	    'set ssl_verify_host=no\n'
	    f'set certificate_file="{certs}"\n'
	    'set header_cache=""\nset mail_check=0\nset timeout=1\n'
	    'set pager_stop=yes\n')
	screen = run_on_pty(["mutt", "-n", "-F", str(rc), "-e",
	    "push <exit>"], tmp_path)
	assert SUBJECT.encode() in screen, "the index did not show the message"
	for cmd in ("LOGIN", "SELECT", "(UID )?FETCH", "LOGOUT"):
		assert srv.log_count(r"imap session=\S+ .*cmd=" + cmd +
		    " result=OK") >= 1, cmd
