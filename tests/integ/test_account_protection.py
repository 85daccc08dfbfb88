"""Account protection: password spraying (failures for one account from
many addresses block its logins from unknown addresses, not from known
ones), the admins' notifications (an account reaching its failure count,
a ban), and the hijack limits that need history: first-time recipients
and logins from too many addresses."""
import re

from conftest import (DEMO, DEMO_PW, OUTSIDE, login_plain, make_message,
    submission_client, wait_until)
from test_screening import bans, parallel, screen_server, smtp_login

ADMIN = "admin@example.test"


def test_password_spraying_blocks_unknown_addresses_only(make_server):
	srv = screen_server(make_server, {"dynamic": {"spray": "3/10m",
	    "auth_fail": "100/1m"}})
	# demo has logged in from 127.0.0.20 before: a known address.
	assert smtp_login(srv, DEMO, DEMO_PW, "127.0.0.20")[0] == "ok"
	# Wrong passwords for demo from four other addresses.
	out = parallel([lambda i=i: smtp_login(srv, DEMO, f"guess-{i}",
	    f"127.0.0.{30 + i}") for i in range(4)])
	assert [o[0] for o in out] == ["failed"] * 4, out
	assert srv.wait_log(r"event=account-block account=demo@example\.test",
	    timeout=5)
	rows = [b for b in bans(srv) if b[0] == "account"]
	assert rows and rows[0][1] == DEMO and "spraying" in rows[0][2], rows
	# The right password from a new address is refused now ...
	assert smtp_login(srv, DEMO, DEMO_PW, "127.0.0.40")[0] == "failed"
	assert srv.wait_log(r"ip=127\.0\.0\.40 event=spray-blocked", timeout=5)
	# ... from the known one it works, and no address was banned.
	assert smtp_login(srv, DEMO, DEMO_PW, "127.0.0.20")[0] == "ok"
	assert [b for b in bans(srv) if b[0] == "ip"] == []
	# The admin lifts the block.
	srv.ctl("ban", "del-account", DEMO)
	assert smtp_login(srv, DEMO, DEMO_PW, "127.0.0.40")[0] == "ok"


def admin_mail(srv):
	return [p.read_text() for p in srv.maildir_files(ADMIN)]


def test_admins_told_of_failing_account_and_ban(make_server):
	srv = screen_server(make_server, {
	    "dynamic": {"auth_fail": "6/1m", "notify_failures": "4",
	    "spray": "0/1m"},
	    "hijack": {"admins": ADMIN}}, start=False)
	srv.add_account(ADMIN, "admin-password-1")
	srv.start()
	out = parallel([lambda i=i: smtp_login(srv, DEMO, f"wrong-{i}")
	    for i in range(8)])
	assert "banned" in [o[0] for o in out] or \
	    "refused" in [o[0] for o in out], out
	mails = wait_until(lambda: len(admin_mail(srv)) >= 2 and
	    admin_mail(srv), 15)
	assert mails, srv.log_text()[-3000:]
	subjects = [re.search(r"^Subject: (.*)$", m, re.M).group(1)
	    for m in mails]
	assert any(re.fullmatch(r"moat: \d+ failed logins for "
	    r"demo@example\.test", s) for s in subjects), subjects
	assert any(s.startswith(f"moat: {OUTSIDE} banned (auth_fail")
	    for s in subjects), subjects
	ban = [m for m in mails if "banned" in m][0]
	assert f"moatctl ban del {OUTSIDE}" in ban, ban
	# Rate limited: more failures from elsewhere do not mail again.
	n = len(admin_mail(srv))
	parallel([lambda i=i: smtp_login(srv, DEMO, f"again-{i}",
	    "127.0.0.50") for i in range(3)])
	assert srv.wait_log(r"notify event=suppressed", timeout=5)
	assert len(admin_mail(srv)) == n


def send_to(c, rcpts, subject):
	assert c.cmd(f"MAIL FROM:<{DEMO}>")[0] == 250
	for r in rcpts:
		assert c.cmd(f"RCPT TO:<{r}>")[0] == 250
	assert c.cmd("DATA")[0] == 354
	return c.cmd(make_message(subject, rcpt=rcpts[0],
	    sender=DEMO).decode() + ".")


def frozen(srv):
	return srv.ctl("account", "list", "--frozen").stdout


def test_first_time_recipients_freeze(make_pair):
	a, b = make_pair({"hijack": {"first_time_recipients": "5/1d",
	    "admins": ADMIN}, "queue": {"retry_min": "60"}}, start_b=False)
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	# The same three people again and again: not first-time.
	for i in range(4):
		assert send_to(c, [f"friend{j}@other.test" for j in range(3)],
		    f"hello {i}")[0] == 250
	assert wait_until(lambda: a.log_text().count("event=queued") >= 4, 5)
	assert frozen(a) == ""
	# Then a run of new addresses.
	assert send_to(c, [f"new{j}@other.test" for j in range(4)],
	    "offer")[0] == 250
	c.close()
	assert wait_until(lambda: "first-time recipients" in frozen(a), 5), \
	    a.log_text()[-2000:]


def test_logins_from_too_many_addresses_freeze(make_server):
	srv = screen_server(make_server, {"hijack": {"login_ips": "3/1h",
	    "admins": ADMIN}})
	for i in range(3):
		assert smtp_login(srv, DEMO, DEMO_PW, f"127.0.0.{60 + i}")[0] == \
		    "ok"
	# The fourth address: the login itself is refused, the account frozen.
	c, _ = submission_client(srv, source="127.0.0.63", tls=False)
	code, lines = c.cmd("AUTH PLAIN " + __import__("base64").b64encode(
	    f"\0{DEMO}\0{DEMO_PW}".encode()).decode())
	assert code == 535 and b"frozen" in lines[0], lines
	c.close()
	assert "logins from 4 addresses" in frozen(srv)
