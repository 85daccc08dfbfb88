"""The learning spam filter over SMTP: after `moatctl spam train` on part
of the SpamAssassin corpus (loopback only), mail from outside is scored
at the end of DATA: X-Spam-Score/X-Spam-Status headers, spam filed into
the Junk folder, a refusal above reject_score; authenticated mail is not
scored. `moatctl spam score` agrees with what the server did."""
import os
import re
import shutil
import tempfile
from pathlib import Path

from conftest import (DEMO, DEMO_PW, OUTSIDE, REPO, RawSMTP, login_plain,
    submission_client, wait_until)

CORPUS = Path(REPO).parent / "shared" / "testdata" / "corpus" / "spamassassin"
TRAIN = 150		# messages of each class taught before the test


def corpus(kind):
	return sorted((CORPUS / kind).iterdir())


def training_dir(kind, files):
	"""A copy moatctl (dropping to the service user) can read."""
	d = Path(tempfile.mkdtemp(dir="/tmp", prefix=f"moat-spam-{kind}-"))
	for f in files:
		shutil.copy(f, d / f.name)
	os.chmod(d, 0o755)
	for f in d.iterdir():
		os.chmod(f, 0o644)
	return d


def trained_server(make_server, spam_cfg=None):
	srv = make_server({"spam": spam_cfg or {}}, start=False)
	dirs = [training_dir("spam", corpus("spam")[:TRAIN]),
	    training_dir("ham", corpus("ham")[:TRAIN])]
	try:
		srv.ctl("spam", "train", "--spam", str(dirs[0]), "--ham",
		    str(dirs[1]), timeout=120)
	finally:
		for d in dirs:
			shutil.rmtree(d)
	srv.start()
	return srv


def smtp_send(srv, raw):
	"""Send a corpus message as it is (CRLF, dot-stuffed) from outside."""
	text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
	lines = [b"." + ln if ln.startswith(b".") else ln
	    for ln in text.split(b"\r\n")]
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<someone@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.send(b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n")
		return c.reply()


def score_of(data):
	m = re.search(rb"^X-Spam-Score: ([0-9.]+)\r?$", data, re.M)
	return float(m.group(1)) if m else None


def test_spam_to_junk_ham_to_inbox(make_server):
	srv = trained_server(make_server)
	stats = srv.ctl("spam", "stats").stdout
	assert str(TRAIN) in stats, stats
	spam = corpus("spam")[TRAIN + 10].read_bytes()
	ham = corpus("ham")[TRAIN + 10].read_bytes()
	assert smtp_send(srv, spam)[0] == 250
	assert smtp_send(srv, ham)[0] == 250
	junk = srv.maildir() / ".Junk" / "new"
	got_junk = wait_until(lambda: junk.exists() and list(junk.iterdir()),
	    10)
	got_inbox = wait_until(lambda: srv.maildir_files(DEMO), 10)
	assert got_junk and len(got_junk) == 1, "spam not in Junk"
	assert len(got_inbox) == 1, "ham not in the inbox"
	j = got_junk[0].read_bytes()
	h = got_inbox[0].read_bytes()
	assert b"X-Spam-Status: Yes" in j and score_of(j) >= 0.9, j[:800]
	assert b"X-Spam-Status: No" in h and score_of(h) < 0.5, h[:800]


def test_reject_score_refuses(make_server):
	srv = trained_server(make_server, {"reject_score": "95"})
	spam = corpus("spam")[TRAIN + 20].read_bytes()
	code, lines = smtp_send(srv, spam)
	assert code == 550 and lines[0].startswith(b"550 5.7.1 ") and \
	    b"spam" in lines[0], lines


def test_authenticated_mail_not_scored(make_server):
	srv = trained_server(make_server)
	c, _ = submission_client(srv, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	c.expect(f"MAIL FROM:<{DEMO}>", 250)
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.expect("DATA", 354)
	spam = corpus("spam")[TRAIN + 30].read_bytes()
	body = spam.split(b"\n\n", 1)[-1].replace(b"\n", b"\r\n")
	c.send(f"From: {DEMO}\r\nTo: {DEMO}\r\nSubject: mine\r\n\r\n"
	    .encode() + body.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
	assert c.reply()[0] == 250
	c.close()
	got = wait_until(lambda: srv.maildir_files(DEMO), 10)
	assert got and b"X-Spam-" not in got[0].read_bytes()
