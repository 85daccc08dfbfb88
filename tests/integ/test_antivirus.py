"""Antivirus over SMTP with a real clamd (clamd_harness.py): EICAR in a
base64 attachment and a custom-signature sample are refused at the end
of DATA with 554 5.7.0 naming the signature; clean mail is delivered with
an X-Virus-Scan header; with clamd gone the message is tempfailed (451,
the default) or, with fail_open, delivered marked "not scanned"."""
import subprocess

from clamd_harness import (CUSTOM_NAME, CUSTOM_SAMPLE, EICAR, EICAR_NAME,
    clamd, with_attachment)  # noqa: F401 (clamd: a fixture)
from conftest import MOATD, DEMO, OUTSIDE, RawSMTP, make_message, wait_until


def send(srv, msg):
	"""(code, first reply line) of the end of DATA."""
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<sender@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		code, lines = c.cmd(msg.decode() + ".")
		return code, lines[0]


def test_viruses_refused_clean_mail_delivered(make_server, clamd):
	srv = make_server({"antivirus": {"clamd": clamd.address}})
	# Named .txt: a .com would be refused by name by the attachment
	# policy before clamd sees it (tests/integ/test_attachments.py).
	code, line = send(srv, with_attachment("eicar", EICAR, "eicar.txt"))
	assert code == 554 and line.startswith(b"554 5.7.0 "), line
	assert EICAR_NAME.encode() in line and b"[ref " in line, line
	code, line = send(srv, with_attachment("custom", CUSTOM_SAMPLE,
	    "notes.txt"))
	assert code == 554 and CUSTOM_NAME.encode() in line, line
	code, line = send(srv, make_message("clean one"))
	assert code == 250, line
	got = srv.wait_delivered(1)
	assert len(got) == 1 and b"clean one" in got[0]
	assert b"X-Virus-Scan: clean (clamd)" in got[0], got[0][:600]
	def rows():
		return srv.ctl("log", "rejected", "--rule",
		    "virus").stdout.splitlines()
	# Written from the thread pool, by whichever worker had the session.
	assert wait_until(lambda: len(rows()) == 2, 5), rows()
	assert EICAR_NAME in rows()[-1], rows()


def test_clamd_down_fails_closed_by_default(make_server, clamd):
	srv = make_server({"antivirus": {"clamd": clamd.address,
	    "timeout": "3s"}})
	clamd.stop()
	code, line = send(srv, make_message("while clamd is down"))
	assert code == 451 and line.startswith(b"451 4.7.0 "), line
	assert srv.maildir_files(DEMO) == []
	assert srv.wait_log(r"event=virus-scan-failed .*fail_open=no",
	    timeout=5)


def test_clamd_down_fail_open_delivers_marked(make_server, clamd):
	srv = make_server({"antivirus": {"clamd": clamd.address,
	    "fail_open": "yes", "timeout": "3s"}})
	clamd.stop()
	code, line = send(srv, make_message("accepted unscanned"))
	assert code == 250, line
	got = srv.wait_delivered(1)
	assert b"X-Virus-Scan: not scanned (" in got[0], got[0][:600]


def test_bad_clamd_address_refused_by_check(make_server):
	srv = make_server({"antivirus": {"clamd": "ftp://nowhere"}},
	    start=False)
	r = subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
	    capture_output=True, text=True, timeout=20)
	assert r.returncode != 0 and "[antivirus] clamd" in r.stderr, r.stderr
