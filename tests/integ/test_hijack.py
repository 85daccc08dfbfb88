"""Hijacked-account detection: a submission client sending past the limit
is frozen mid-stream, its later messages are refused, what it queued is
held, mail to it is still delivered, the admins get a notification with
a token, a forged reply is ignored and the real one unfreezes."""
import re
import time

from conftest import (BOB, DEMO, DEMO_PW, OUTSIDE, RawSMTP, login_plain,
    make_message, submission_client, wait_until)

ADMIN = "admin@example.test"
ADMIN_PW = "admin-password-1"
TOKEN_RE = re.compile(r"\[unfreeze ([0-9a-f]{32})\]")


def hijack_pair(make_pair, **hijack):
	"""A (example.test, demo and admin) sending to B (other.test), with B
	down so that remote mail stays in A's queue."""
	cfg = {"messages": "3/1m", "local_messages": "3/1m",
	    "admins": ADMIN}
	cfg.update(hijack)
	a, b = make_pair({"hijack": cfg, "queue": {"retry_min": "60"}},
	    start_a=False, start_b=False)
	a.add_account(ADMIN, ADMIN_PW)
	a.start()
	return a, b


def submit(c, subject, rcpt=BOB):
	"""One message on an authenticated session: (code of the end of
	DATA, its text)."""
	code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
	if code != 250:
		return code, lines
	assert c.cmd(f"RCPT TO:<{rcpt}>")[0] == 250
	assert c.cmd("DATA")[0] == 354
	return c.cmd(make_message(subject, rcpt=rcpt, sender=DEMO).decode()
	    + ".")


def frozen(srv):
	return [ln.split("\t") for ln in
	    srv.ctl("account", "list", "--frozen").stdout.splitlines()]


def notification(srv):
	files = srv.maildir_files(ADMIN)
	return files[0].read_text() if files else ""


def queued_for(srv, rcpt):
	return [q for q in srv.queue_list() if any(rcpt in f for f in q)]


def test_sender_past_the_limit_is_frozen_and_admin_unfreezes(make_pair):
	a, b = hijack_pair(make_pair)
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	for i in range(3):
		code, lines = submit(c, f"bulk {i}")
		assert code == 250, lines
	# The fourth is past "3 in a minute": refused, the account frozen.
	code, lines = submit(c, "bulk 3")
	assert code == 554, lines
	assert b"frozen" in lines[0] and b"[ref " in lines[0], lines
	# Later messages of the same session are refused at MAIL.
	code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
	assert code == 554 and b"frozen" in lines[0], lines
	c.close()
	rows = wait_until(lambda: frozen(a), 5)
	assert rows and rows[0][0] == DEMO and "messages" in rows[0][2], rows

	# A new login for submission is refused with the reason.
	c, _ = submission_client(a, source=OUTSIDE)
	code, lines = c.cmd("AUTH PLAIN " + __import__("base64").b64encode(
	    f"\0{DEMO}\0{DEMO_PW}".encode()).decode())
	assert code == 535 and b"frozen" in lines[0], lines
	c.close()

	# What it queued for B is held, not sent, even once B is up.
	def held():
		return [q for q in a.queue_list() if "held" in q]
	assert wait_until(lambda: len(held()) == 3, 10), a.queue_list()
	b.start()
	a.ctl("queue", "flush")
	time.sleep(3)
	assert b.maildir_files(BOB) == [], "a frozen account's mail left"

	# Mail to the frozen account is still delivered.
	with RawSMTP(a.smtp_port, source=OUTSIDE) as s:
		s.greeting()
		s.ehlo()
		s.expect("MAIL FROM:<friend@client.example.org>", 250)
		s.expect(f"RCPT TO:<{DEMO}>", 250)
		s.expect("DATA", 354)
		s.expect(make_message("still reaches demo").decode() + ".", 250)
	assert wait_until(lambda: any(b"still reaches demo" in p.read_bytes()
	    for p in a.maildir_files(DEMO)), 10)

	# The admins got the notification, with the token.
	text = wait_until(lambda: notification(a), 10)
	assert f"Account {DEMO} frozen" in text, text
	assert "4 messages in 60s" in text and OUTSIDE in text, text
	assert BOB in text and "bulk 3" in text, text
	token = TOKEN_RE.search(text).group(1)

	# A forged, unauthenticated "reply" with the token changes nothing.
	with RawSMTP(a.smtp_port, source=OUTSIDE) as s:
		s.greeting()
		s.ehlo()
		s.expect(f"MAIL FROM:<{ADMIN}>", 250)
		s.expect(f"RCPT TO:<{ADMIN}>", 250)
		s.expect("DATA", 354)
		s.expect(make_message(f"Re: Account {DEMO} frozen [unfreeze "
		    f"{token}]", rcpt=ADMIN, sender=ADMIN).decode() + ".", 250)
	assert a.wait_log(r"unfreeze-ignored .*not provably from an admin",
	    timeout=5)
	assert frozen(a), "a forged reply unfroze the account"

	# The admin's authenticated reply unfreezes and releases.
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, ADMIN, ADMIN_PW)
	c.expect(f"MAIL FROM:<{ADMIN}>", 250)
	c.expect(f"RCPT TO:<{ADMIN}>", 250)
	c.expect("DATA", 354)
	c.expect(make_message(f"Re: Account {DEMO} frozen [unfreeze {token}] "
	    "RELEASE", rcpt=ADMIN, sender=ADMIN).decode() + ".", 250)
	c.close()
	assert wait_until(lambda: frozen(a) == [], 5), frozen(a)
	assert len(b.wait_delivered(3, user=BOB, timeout=15)) == 3
	# And demo may send again.
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	assert c.cmd(f"MAIL FROM:<{DEMO}>")[0] == 250
	c.close()


def test_token_is_single_use_and_wrong_tokens_do_nothing(make_pair):
	a, b = hijack_pair(make_pair, messages="1/1m", local_messages="1/1m")
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	assert submit(c, "one")[0] == 250
	assert submit(c, "two")[0] == 554
	c.close()
	token = TOKEN_RE.search(wait_until(lambda: notification(a), 10)).group(1)
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, ADMIN, ADMIN_PW)
	for t in ("0" * 32, token, token):
		c.expect(f"MAIL FROM:<{ADMIN}>", 250)
		c.expect(f"RCPT TO:<{ADMIN}>", 250)
		c.expect("DATA", 354)
		c.expect(make_message(f"Re: [unfreeze {t}]", rcpt=ADMIN,
		    sender=ADMIN).decode() + ".", 250)
	c.close()
	assert a.wait_log(r"event=unfrozen account=demo@example.test",
	    timeout=5)
	# The unfreeze jobs run in the thread pool: the third reply's line
	# may come after the second's.
	def ignored():
		return len(re.findall(r"event=unfreeze-ignored .*no frozen "
		    r"account", a.log_text()))
	assert wait_until(lambda: ignored() == 2, 5), a.log_text()[-3000:]
	time.sleep(0.3)
	assert ignored() == 2, a.log_text()[-3000:]


def test_moatctl_freeze_unfreeze_and_shadow_mode(make_pair):
	a, b = hijack_pair(make_pair, mode="shadow")
	# Shadow: past the limit nothing is refused, the log says so.
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	for i in range(5):
		assert submit(c, f"shadow {i}")[0] == 250
	c.close()
	assert a.wait_log(r"hijack event=shadow-freeze account=demo@example.test",
	    timeout=5)
	assert frozen(a) == []
	rows = wait_until(lambda: [r for r in a.ctl("log", "rejected",
	    "--rule", "hijack").stdout.splitlines() if r.endswith("\tshadow")],
	    5)
	assert rows, a.ctl("log", "rejected").stdout

	# By hand: freeze refuses MAIL on a running server at once.
	a.ctl("account", "freeze", DEMO, "suspicious")
	assert frozen(a)[0][2] == "suspicious"
	c, _ = submission_client(a, source=OUTSIDE)
	code, lines = c.cmd("AUTH PLAIN " + __import__("base64").b64encode(
	    f"\0{DEMO}\0{DEMO_PW}".encode()).decode())
	assert code == 535 and b"frozen" in lines[0], lines
	c.close()
	out = a.ctl("account", "unfreeze", DEMO, "--release").stdout
	assert "unfrozen" in out and "released" in out, out
	assert frozen(a) == []
	r = a.ctl("account", "unfreeze", DEMO, check=False)
	assert r.returncode == 1 and "not frozen" in r.stderr


def test_admins_and_exempt_accounts_are_never_frozen(make_pair):
	a, b = hijack_pair(make_pair, messages="1/1m", local_messages="1/1m",
	    exempt=DEMO)
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	for i in range(4):
		assert submit(c, f"newsletter {i}")[0] == 250
	c.close()
	assert frozen(a) == []
