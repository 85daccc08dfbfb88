"""The content-filter rules ([filter] rules) over real SMTP: a rule file in
the server's data dir, every action exercised end to end (reply codes,
the delivered Maildir files, the quarantine directory, notifications
delivered to local mailboxes), rule hits logged under the session id,
a reload of the changed file without restart (and a broken file keeping
the rules in force), and moatd --check naming file:line."""
import base64
import gzip
import io
import os
import re
import subprocess
import time

from conftest import (DEMO, DEMO_PW, MOATD, OUTSIDE, RawSMTP, login_plain,
    make_message, submission_client, wait_until)

SENDER = "sender@client.example.org"
ARCHIVE = "archive@example.test"
OTHER = "other@example.test"
ADMIN = "admin@example.test"

RULES = r'''
# Every action, one rule (or two) each; the Subject picks the rule.
rule "no-zipped-invoices"
  if direction is inbound and header "Subject" matches "(?i)invoice" and
     attachment name like "*.zip"
  then reject 550 "5.7.1 No zipped invoices" ; stop

rule "drop"
  if header "Subject" contains "drop-me" then discard

rule "hold"
  if body contains "hold-me-please" then quarantine "held by rule hold"

rule "edit-headers"
  if header "Subject" is "edit headers"
  then add-header "X-Rule" "edited" ; remove-header "X-Remove-Me" ;
       replace-header "X-Replace" "new value"

rule "tag"
  if header "X-Suspect" exists then tag-subject "[SUSPECT]"

rule "copy"
  if sender is "copy@client.example.org" then copy "archive@example.test"

rule "redirect"
  if recipient is "demo@example.test" and header "Subject" contains
     "redirect-me"
  then redirect "other@example.test"

rule "strip-exe"
  if attachment name like "*.exe"
  then strip-attachments "*.exe" ; notify admin "an executable was
stripped" ; notify sender
'''.replace("was\nstripped", "was stripped")

RULES_TAIL = r'''
rule "local-accept"
  if not ip in "127.0.0.2/32" and header "Subject" contains "accept-me"
  then accept
rule "after-accept"
  if header "Subject" contains "accept-me" then add-header "X-After" "yes"

rule "stopper"
  if header "Subject" contains "stop-here" then add-header "X-Stop" "1" ;
  stop
rule "after-stop"
  if header "Subject" contains "stop-here" then add-header "X-Late" "1"

rule "temp"
  if header "Subject" contains "later-please"
  then reject 451 "4.7.1 Try again later"
'''


def rules_server(make_server, text=RULES + RULES_TAIL):
	def provision(srv):
		srv.provision()
		for a in (ARCHIVE, OTHER, ADMIN):
			srv.add_account(a, "pw-" + a)
		srv.data_dir.mkdir(parents=True, exist_ok=True)
		write_rules(srv, text)

	# The attachment stage (before ours) blocks nothing here.
	return make_server({"filter": {"rules": "rules.conf"},
	    "hijack": {"admins": ADMIN},
	    "attachments": {"block_names": "", "block_types": ""}},
	    provision=provision)


def write_rules(srv, text):
	p = srv.data_dir / "rules.conf"
	tmp = srv.data_dir / "rules.conf.tmp"
	tmp.write_text(text)
	os.chmod(tmp, 0o644)
	os.replace(tmp, p)


def send(srv, msg, sender=SENDER, rcpts=(DEMO,), source=OUTSIDE):
	"""(code, reply lines) of the end of DATA."""
	with RawSMTP(srv.smtp_port, source=source) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{sender}>", 250)
		for r in rcpts:
			c.expect(f"RCPT TO:<{r}>", 250)
		c.expect("DATA", 354)
		c.send(msg + b".\r\n")
		return c.reply()


def with_attachment(subject, name, payload=b"some binary data",
    sender=SENDER, rcpt=DEMO):
	b64 = base64.encodebytes(payload).decode().replace("\n", "\r\n")
	body = ("--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	    "--b1\r\nContent-Type: application/octet-stream\r\n"
	    f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
	    f"Content-Transfer-Encoding: base64\r\n\r\n{b64}--b1--\r\n")
	return make_message(subject, body=body, sender=sender, rcpt=rcpt,
	    extra_headers=("MIME-Version: 1.0",
	    'Content-Type: multipart/mixed; boundary="b1"'))


def delivered_with(srv, user, marker, timeout=10):
	"""The one delivered message of user that contains marker."""
	def find():
		hits = [f.read_bytes() for f in srv.maildir_files(user)]
		hits = [h for h in hits if marker in h]
		return hits or None
	hits = wait_until(find, timeout, what=f"{marker!r} for {user}")
	assert hits and len(hits) == 1, hits
	return hits[0]


def header_block(data):
	return data.split(b"\r\n\r\n", 1)[0]


def test_every_action(make_server):
	srv = rules_server(make_server)

	# reject (5xx with the enhanced code) + stop; logged with the rule
	code, lines = send(srv, with_attachment("Your INVOICE", "inv.zip"))
	assert code == 550 and b"5.7.1 No zipped invoices" in lines[0], lines
	assert srv.wait_log(r"event=rule rule=no-zipped-invoices "
	    r"action=reject")
	# a gzip's file goes by its FNAME and by the name gunzip gives it
	out = io.BytesIO()
	with gzip.GzipFile(filename="data.bin", mode="wb", fileobj=out,
	    mtime=0) as g:
		g.write(b"PK not really\n")
	code, lines = send(srv, with_attachment("Invoice again", "inv.zip.gz",
	    out.getvalue()))
	assert code == 550 and b"5.7.1 No zipped invoices" in lines[0], lines
	# the same from an authenticated client (outbound) is not refused
	c, _ = submission_client(srv)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect(f"RCPT TO:<{OTHER}>", 250)
		c.expect("DATA", 354)
		c.send(with_attachment("outbound invoice", "inv.zip",
		    sender=DEMO, rcpt=OTHER) + b".\r\n")
		assert c.reply()[0] == 250
	delivered_with(srv, OTHER, b"outbound invoice")

	# 4xx reject
	code, lines = send(srv, make_message("later-please"))
	assert code == 451 and b"4.7.1 Try again later" in lines[0], lines

	# discard: 250, never delivered
	code, _ = send(srv, make_message("drop-me now"))
	assert code == 250
	assert srv.wait_log(r"event=rule rule=drop action=discard")

	# quarantine: held in <data_dir>/quarantine, not delivered
	code, _ = send(srv, make_message("hold test",
	    body="please hold-me-please\r\n"))
	assert code == 250
	qdir = srv.data_dir / "quarantine"
	held = wait_until(lambda: qdir.exists() and [p for p in
	    qdir.rglob("*") if p.is_file() and b"hold-me-please" in
	    p.read_bytes()], 10, what="held message")
	assert held

	# header add / remove / replace
	send(srv, make_message("edit headers", extra_headers=(
	    "X-Remove-Me: gone", "X-Replace: old value",
	    "X-Replace: second old")))
	data = delivered_with(srv, DEMO, b"Subject: edit headers")
	hdr = header_block(data)
	assert b"X-Rule: edited\r\n" in hdr
	assert b"X-Remove-Me" not in hdr
	assert hdr.count(b"X-Replace:") == 1 and b"X-Replace: new value" in hdr
	# our Received: stays the first line
	# our Received: stays first (after what delivery prepends), the
	# added header comes right after it
	lines = hdr.split(b"\r\n")
	assert lines[0].startswith(b"Return-Path: ") and \
	    lines[1].startswith(b"Delivered-To: ") and \
	    lines[2].startswith(b"Received: from "), lines[:4]
	assert hdr.index(b"X-Rule: edited") > hdr.index(b"(moat)")

	# tag the subject
	send(srv, make_message("tag me", extra_headers=("X-Suspect: yes",)))
	data = delivered_with(srv, DEMO, b"tag me")
	assert b"Subject: [SUSPECT] tag me\r\n" in data

	# copy: a blind copy to archive@, demo still gets it, To: unchanged
	send(srv, make_message("copy test"), sender="copy@client.example.org")
	data = delivered_with(srv, ARCHIVE, b"copy test")
	assert b"\r\nTo: demo@example.test\r\n" in header_block(data)
	delivered_with(srv, DEMO, b"copy test")

	# redirect: other@ gets it, demo does not
	send(srv, make_message("please redirect-me"))
	delivered_with(srv, OTHER, b"redirect-me")

	# strip attachments + notify admin + notify sender (a local sender,
	# authenticated, so that both notes land in local mailboxes)
	c, _ = submission_client(srv)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect(f"RCPT TO:<{OTHER}>", 250)
		c.expect("DATA", 354)
		c.send(with_attachment("strip test", "evil.exe", sender=DEMO,
		    rcpt=OTHER) + b".\r\n")
		assert c.reply()[0] == 250
	data = delivered_with(srv, OTHER, b"strip test")
	assert b"evil.exe\" was removed by the content filter (rule " \
	    b"strip-exe)" in data
	assert base64.encodebytes(b"some binary data").strip() not in data
	assert b"see attached" in data and b"--b1--" in data
	note = delivered_with(srv, ADMIN, b"strip-exe")
	assert b"an executable was stripped" in note
	delivered_with(srv, DEMO, b"Your message was filtered (rule "
	    b"strip-exe)")
	# From outside, the sender is not verified (no SPF or DMARC pass):
	# stripped, but the sender is not told (backscatter).
	code, _ = send(srv, with_attachment("strip outside", "evil.exe",
	    rcpt=OTHER), rcpts=(OTHER,))
	assert code == 250
	data = delivered_with(srv, OTHER, b"strip outside")
	assert b"evil.exe\" was removed by the content filter" in data
	assert srv.wait_log(r"event=rule-notify-skipped rule=strip-exe "
	    r'reason="sender not verified"')

	# accept ends the evaluation: from 127.0.0.1 the later rule does not
	# run; from outside (127.0.0.2) local-accept does not match
	send(srv, make_message("accept-me local"), source="127.0.0.1")
	data = delivered_with(srv, DEMO, b"accept-me local")
	assert b"X-After" not in data
	send(srv, make_message("accept-me outside"))
	data = delivered_with(srv, DEMO, b"accept-me outside")
	assert b"X-After: yes" in data

	# stop: its own actions apply, later rules do not
	send(srv, make_message("stop-here"))
	data = delivered_with(srv, DEMO, b"stop-here")
	assert b"X-Stop: 1" in data and b"X-Late" not in data

	# nothing else reached demo (discarded, held, redirected, rejected)
	texts = [f.read_bytes() for f in srv.maildir_files(DEMO)]
	for marker in (b"drop-me", b"hold-me-please", b"redirect-me",
	    b"INVOICE", b"later-please"):
		assert not any(marker in t for t in texts), marker

	# every hit is logged under its session id
	assert srv.log_count(r"smtp session=[0-9a-f]+ event=rule "
	    r"rule=strip-exe action=(strip-attachments|notify-admin|"
	    r"notify-sender)$") == 6


def test_reload_without_restart(make_server):
	srv = rules_server(make_server, 'rule "one" if header "Subject" '
	    'contains "ping" then add-header "X-Version" "1"\n')
	pid = srv.pid
	send(srv, make_message("ping 1"))
	assert b"X-Version: 1" in delivered_with(srv, DEMO, b"ping 1")

	time.sleep(1.1)
	write_rules(srv, 'rule "two" if header "Subject" contains "ping" '
	    'then reject 550 "5.7.1 version two"\n')
	time.sleep(1.1)	# the stage looks at most once a second
	code, lines = send(srv, make_message("ping 2"))
	assert code == 550 and b"version two" in lines[0], lines
	assert srv.wait_log(r"rules event=loaded file=\S+rules.conf rules=1")

	# a broken file: the error with file:line, the rules in force kept
	time.sleep(1.1)
	write_rules(srv, 'rule "three"\n  if header "Subject" contains "x"\n'
	    '  then reject 250 "2.0.0 not a refusal"\n')
	time.sleep(1.1)
	code, lines = send(srv, make_message("ping 3"))
	assert code == 550 and b"version two" in lines[0], lines
	assert srv.wait_log(r"rules event=load_failed error=\"\S*rules.conf:3:"
	    r" expected a 4xx or 5xx reply code\" note=\"previous rules "
	    r"kept\"")
	assert srv.pid == pid and srv.running()


def test_check_names_file_and_line(make_server):
	srv = rules_server(make_server, 'rule "ok" then stop\n')
	srv.stop()
	r = subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
	    capture_output=True, text=True, timeout=30)
	assert r.returncode == 0, r.stderr
	write_rules(srv, 'rule "ok" then stop\n\nrule "bad"\n  if size >> 3 '
	    'then stop\n')
	r = subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
	    capture_output=True, text=True, timeout=30)
	assert r.returncode == 1
	assert re.search(r"\[filter\] rules: \S*rules.conf:4: ", r.stderr), \
	    r.stderr
