"""Users teach the spam filter through IMAP: COPY, MOVE and UID MOVE into
Junk, and APPEND into Junk, learn spam in the user's scope (and
globally), a MOVE out of Junk
into INBOX turns the learning into ham, into Trash or a folder under Junk
teaches nothing; the
learning runs in the thread pool after the tagged OK. At SMTP, mail for
exactly one local account is scored with that user's training once the
user has taught [spam] user_min messages; mail for several accounts is
scored globally."""
import imaplib
import os
import re
import shutil
import tempfile
from pathlib import Path

from conftest import (DEFAULT_CONFIG, DEMO, DEMO_PW, OUTSIDE, REPO, RawSMTP, free_ports,
    wait_until)

CORPUS = Path(REPO).parent / "shared" / "testdata" / "corpus" / "spamassassin"
TRAIN = 60		# messages of each class taught globally first
USER_MIN = 3
CAROL = "carol@example.test"
CAROL_PW = "carol-password-1"


def corpus(kind):
	return sorted((CORPUS / kind).iterdir())


def training_dir(kind, files):
	"""A copy moatctl (dropping to the service user) can read."""
	d = Path(tempfile.mkdtemp(dir="/tmp", prefix=f"moat-junk-{kind}-"))
	for f in files:
		shutil.copy(f, d / f.name)
	os.chmod(d, 0o755)
	for f in d.iterdir():
		os.chmod(f, 0o644)
	return d


def junk_server(make_server, spam=None, limits=None):
	p = free_ports(1)[0]
	srv = make_server({
	    "limits": dict(DEFAULT_CONFIG["limits"], **(limits or {})),
	    "listen": {"imap": f"127.0.0.1:{p}"},
	    "auth": {"cleartext_loopback": "yes"},
	    # No auto-learning: the global counts change only when the test
	    # says so.
	    "spam": dict({"user_min": str(USER_MIN), "learn_spam": "100",
	    "learn_ham": "0"}, **(spam or {}))}, start=False)
	srv.imap_port = p
	srv.add_account(CAROL, CAROL_PW)
	train(srv, None, spam=corpus("spam")[:TRAIN],
	    ham=corpus("ham")[:TRAIN])
	srv.start()
	return srv


def train(srv, user, spam=(), ham=()):
	dirs = []
	args = ["spam", "train"] + (["--user", user] if user else [])
	try:
		for kind, files in (("spam", spam), ("ham", ham)):
			if files:
				dirs.append(training_dir(kind, files))
				args += [f"--{kind}", str(dirs[-1])]
		srv.ctl(*args, timeout=120)
	finally:
		for d in dirs:
			shutil.rmtree(d)


def stats(srv):
	"""moatctl spam stats as {scope: (spam, ham)}."""
	out = {}
	for ln in srv.ctl("spam", "stats").stdout.splitlines()[1:]:
		f = ln.split()
		if len(f) == 4:
			out[f[0]] = (int(f[1]), int(f[2]))
	return out


def wait_stats(srv, scope, want, timeout=15):
	got = wait_until(lambda: stats(srv).get(scope) == want, timeout)
	assert got, f"{scope}: want {want}, have {stats(srv)}\n" + \
	    srv.log_tail(30)


def imap(srv):
	c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
	c.login(DEMO, DEMO_PW)
	return c


def append(c, folder, raw):
	text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
	typ, _ = c.append(folder, None, None, text)
	assert typ == "OK"


def uids(c):
	typ, data = c.uid("SEARCH", "ALL")
	assert typ == "OK"
	return data[0].split()


def learn_lines(srv):
	return srv.log_count(r"event=junk-learn class=")


def test_moves_into_and_out_of_junk_learn(make_server):
	srv = junk_server(make_server)
	assert stats(srv)["(global)"] == (TRAIN, TRAIN)
	assert DEMO not in stats(srv)
	msgs = corpus("spam")[TRAIN:TRAIN + 4]
	c = imap(srv)
	for m in msgs:
		append(c, "INBOX", m.read_bytes())
	typ, _ = c.select("INBOX")
	assert typ == "OK"
	u = uids(c)
	assert len(u) == 4
	# APPEND to INBOX teaches nothing; MOVE, COPY and UID MOVE into Junk
	# each learn their message (COPY leaves it in INBOX too).
	assert c._simple_command("MOVE", "1", "Junk")[0] == "OK"
	assert c.copy("1", "Junk")[0] == "OK"
	assert c.uid("MOVE", u[3], "Junk")[0] == "OK"
	wait_stats(srv, DEMO, (3, 0))
	wait_stats(srv, "(global)", (TRAIN + 3, TRAIN))
	assert wait_until(lambda: learn_lines(srv) == 3, 10)
	# The same message into Junk again: known, nothing counted twice.
	assert c.copy("1", "Junk")[0] == "OK"
	assert srv.wait_log(r"event=junk-learn class=spam "
	    r'user="demo@example.test" learned=0 known=1')
	assert stats(srv)[DEMO] == (3, 0)

	typ, data = c.select("Junk")
	assert typ == "OK" and int(data[0]) == 4
	# Junk -> Trash says nothing about the message ...
	assert c._simple_command("MOVE", "4", "Trash")[0] == "OK"
	# ... nor does one into a folder kept under Junk ...
	assert c.create("Junk/old")[0] == "OK"
	assert c._simple_command("MOVE", "3", "Junk/old")[0] == "OK"
	# ... Junk -> INBOX is a reclassification: spam becomes ham.
	assert c._simple_command("MOVE", "1", "INBOX")[0] == "OK"
	wait_stats(srv, DEMO, (2, 1))
	wait_stats(srv, "(global)", (TRAIN + 2, TRAIN + 1))
	assert wait_until(lambda: learn_lines(srv) == 5, 10)
	assert srv.log_count(r"event=junk-learn class=ham "
	    r'user="demo@example.test" learned=1') == 1
	c.logout()
	assert learn_lines(srv) == 5
	assert stats(srv)[DEMO] == (2, 1)


def test_append_into_junk_learns_spam(make_server):
	"""A client moving a message in from another account (or without
	MOVE) APPENDs it to Junk: that is spam too; APPEND elsewhere is
	not."""
	srv = junk_server(make_server)
	spam = corpus("spam")[TRAIN].read_bytes()
	c = imap(srv)
	append(c, "INBOX", corpus("spam")[TRAIN + 1].read_bytes())
	append(c, "Junk", spam)
	wait_stats(srv, DEMO, (1, 0))
	wait_stats(srv, "(global)", (TRAIN + 1, TRAIN))
	assert srv.wait_log(r"event=junk-learn class=spam "
	    r'user="demo@example.test" learned=1 known=0')
	append(c, "Junk", spam)
	assert srv.wait_log(r"event=junk-learn class=spam "
	    r'user="demo@example.test" learned=0 known=1')
	c.logout()
	assert learn_lines(srv) == 2
	assert stats(srv)[DEMO] == (1, 0)


def test_learning_off(make_server):
	srv = junk_server(make_server, {"learn_from_moves": "no"})
	c = imap(srv)
	append(c, "INBOX", corpus("spam")[TRAIN].read_bytes())
	c.select("INBOX")
	assert c._simple_command("MOVE", "1", "Junk")[0] == "OK"
	c.logout()
	# Nothing may turn up: give a wrongly queued job time to show.
	assert not wait_until(lambda: learn_lines(srv) > 0 or
	    DEMO in stats(srv), 2)
	assert stats(srv)["(global)"] == (TRAIN, TRAIN)


def test_moves_teach_only_the_user(make_server):
	"""moves_teach_global = no: the user's own counts learn, the global
	ones (everyone's filter) do not."""
	srv = junk_server(make_server, {"moves_teach_global": "no"})
	c = imap(srv)
	append(c, "INBOX", corpus("spam")[TRAIN].read_bytes())
	c.select("INBOX")
	assert c._simple_command("MOVE", "1", "Junk")[0] == "OK"
	c.logout()
	wait_stats(srv, DEMO, (1, 0))
	assert wait_until(lambda: learn_lines(srv) == 1, 10)
	assert stats(srv)["(global)"] == (TRAIN, TRAIN)


def test_large_message_skipped(make_server):
	srv = junk_server(make_server, limits={"message_size": "4M"})
	big = (b"From: bulk@client.example.org\r\nTo: demo@example.test\r\n"
	    b"Subject: huge\r\n\r\n" + b"cheap pills now " * 80000 + b"\r\n")
	assert len(big) > 1024 * 1024
	small = corpus("spam")[TRAIN].read_bytes()
	c = imap(srv)
	append(c, "INBOX", big)
	append(c, "INBOX", small)
	c.select("INBOX")
	# One command, two messages: the large one is skipped, the other
	# learned; the command succeeds either way.
	assert c._simple_command("MOVE", "1:2", "Junk")[0] == "OK"
	assert srv.wait_log(r'event=junk-skipped user="demo@example.test" '
	    r"too_large=1 over_limit=0")
	wait_stats(srv, DEMO, (1, 0))
	assert wait_until(lambda: learn_lines(srv) == 1, 10)
	c.logout()


def smtp_send(srv, raw, rcpts):
	text = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
	lines = [b"." + ln if ln.startswith(b".") else ln
	    for ln in text.split(b"\r\n")]
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<someone@client.example.org>", 250)
		for r in rcpts:
			c.expect(f"RCPT TO:<{r}>", 250)
		c.expect("DATA", 354)
		c.send(b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n")
		code = c.reply()[0]
	assert code == 250


SPAM_LOG = (r'event=spam score=([0-9.]+) verdict=\w+ clues=\d+ '
    r'user="([^"]*)" personal=(yes|no)')


def spam_logs(srv):
	return [(float(s), u, p) for s, u, p in
	    re.findall(SPAM_LOG, srv.log_text())]


def deliver_scored(srv, raw, rcpts):
	n = len(spam_logs(srv))
	smtp_send(srv, raw, rcpts)
	assert wait_until(lambda: len(spam_logs(srv)) == n + 1, 10), \
	    srv.log_tail(20)
	return spam_logs(srv)[n]


def test_per_user_scoring(make_server):
	srv = junk_server(make_server)
	# demo calls these newsletters spam: its own training only (moatctl
	# without the global flag), so the global counts stay as they are.
	taught = corpus("ham")[TRAIN:TRAIN + USER_MIN]
	probe = taught[0].read_bytes()
	train(srv, DEMO, spam=taught[:USER_MIN - 1])
	assert stats(srv)[DEMO] == (USER_MIN - 1, 0)
	# Below user_min: the user's scope is asked for but not used.
	score, user, personal = deliver_scored(srv, probe, [DEMO])
	assert (user, personal) == (DEMO, "no")
	_, user, personal = deliver_scored(srv, probe, [CAROL])
	assert (user, personal) == (CAROL, "no")

	train(srv, DEMO, spam=taught[USER_MIN - 1:])
	assert stats(srv)[DEMO] == (USER_MIN, 0)
	assert stats(srv)["(global)"] == (TRAIN, TRAIN)
	demo_score, user, personal = deliver_scored(srv, probe, [DEMO])
	assert (user, personal) == (DEMO, "yes")
	carol_score, user, personal = deliver_scored(srv, probe, [CAROL])
	assert (user, personal) == (CAROL, "no")
	# demo's own spam verdicts push the message up, for demo only.
	assert demo_score > carol_score + 0.2, (demo_score, carol_score)
	assert demo_score > score
	# Two accounts: the global scope.
	both, user, personal = deliver_scored(srv, probe, [DEMO, CAROL])
	assert (user, personal) == ("", "no")
	assert both < demo_score
	# The delivered copy for demo carries the personal score.
	def copies():
		return [f.read_bytes() for sub in ("new", ".Junk/new")
		    for f in srv.maildir_files(DEMO, sub)]
	assert wait_until(lambda: len(copies()) == 3, 10), len(copies())
	scores = [float(m.group(1)) for d in copies()
	    for m in [re.search(rb"^X-Spam-Score: ([0-9.]+)\r?$", d, re.M)]
	    if m]
	assert len(scores) == 3 and round(demo_score, 3) in scores, scores


def test_per_user_off(make_server):
	srv = junk_server(make_server, {"per_user": "no"})
	taught = corpus("ham")[TRAIN:TRAIN + USER_MIN]
	train(srv, DEMO, spam=taught)
	_, user, personal = deliver_scored(srv, taught[0].read_bytes(), [DEMO])
	assert (user, personal) == ("", "no")
