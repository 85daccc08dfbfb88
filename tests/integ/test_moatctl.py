"""moatctl: domains, accounts, aliases, queue; errors exit non-zero with a
message on stderr; changes are seen by a running daemon."""
import re
import sqlite3
import smtplib
import warnings

import pytest

from conftest import (DEMO, DEMO_PW, MOATCTL, OUTSIDE, RawSMTP,
    make_message, wait_until)

with warnings.catch_warnings():
	warnings.simplefilter("ignore", DeprecationWarning)
	import crypt


@pytest.fixture
def srv(make_server):
	"""A provisioned data_dir; the daemon is not running."""
	return make_server(start=False)


def fails(srv, *args, input=None, needle=None):
	r = srv.ctl(*args, input=input, check=False)
	assert r.returncode != 0, f"moatctl {' '.join(args)} succeeded: {r.stdout}"
	assert r.stderr.strip(), f"moatctl {' '.join(args)}: no message on stderr"
	if needle:
		assert needle.lower() in r.stderr.lower(), r.stderr
	return r


def hashes(srv):
	"""Every crypt(3)-looking string in the database."""
	out = set()
	db = sqlite3.connect(f"file:{srv.data_dir / 'moat.db'}?mode=ro", uri=True)
	try:
		for (t,) in db.execute(
		    "SELECT name FROM sqlite_master WHERE type='table'"):
			for row in db.execute(f'SELECT * FROM "{t}"'):
				for v in row:
					if isinstance(v, str) and v.startswith("$") and \
					    v.count("$") >= 3:
						out.add(v)
	finally:
		db.close()
	return out


def test_domain_add_list_del(srv):
	srv.ctl("domain", "add", "Second.Example")
	out = srv.ctl("domain", "list").stdout
	assert "example.test" in out and "second.example" in out, out
	srv.ctl("domain", "del", "second.example")
	assert "second.example" not in srv.ctl("domain", "list").stdout


def test_domain_errors(srv):
	fails(srv, "domain", "add", "example.test", needle="exists")
	fails(srv, "domain", "add", "not a domain!")
	fails(srv, "domain", "add", "")
	fails(srv, "domain", "del", "nosuch.example")
	# Refused while accounts/aliases exist.
	fails(srv, "domain", "del", "example.test")
	assert "example.test" in srv.ctl("domain", "list").stdout


def test_account_add_list_show(srv):
	srv.ctl("account", "add", "Bob@Example.Test", input="bobs password\n")
	out = srv.ctl("account", "list").stdout
	assert DEMO in out and "bob@example.test" in out, out
	out = srv.ctl("account", "list", "example.test").stdout
	assert "bob@example.test" in out, out
	show = srv.ctl("account", "show", DEMO).stdout
	assert DEMO in show, show
	assert "postmaster@example.test" in show, \
	    f"show does not list the alias pointing at it: {show}"
	assert DEMO_PW not in show


def test_account_password_is_crypt_hash(srv):
	hs = hashes(srv)
	assert len(hs) == 1, hs
	(h,) = hs
	assert crypt.crypt(DEMO_PW, h) == h, "stored hash does not verify"
	assert DEMO_PW not in (srv.data_dir / "moat.db").read_bytes().decode(
	    "latin-1")


def test_account_passwd(srv):
	(old,) = hashes(srv)
	srv.ctl("account", "passwd", DEMO, input="a new password\n")
	(new,) = hashes(srv)
	assert new != old
	assert crypt.crypt("a new password", new) == new
	assert crypt.crypt(DEMO_PW, new) != new


def test_account_errors(srv):
	fails(srv, "account", "add", DEMO, input="x-password\n", needle="exists")
	fails(srv, "account", "add", "someone@nosuch.example",
	    input="x-password\n", needle="domain")
	fails(srv, "account", "add", "not-an-address", input="x-password\n")
	fails(srv, "account", "passwd", "nobody@example.test",
	    input="x-password\n")
	fails(srv, "account", "show", "nobody@example.test")
	fails(srv, "account", "del", "nobody@example.test")


def test_account_add_requires_a_password(srv):
	fails(srv, "account", "add", "empty@example.test", input="")
	assert "empty@example.test" not in srv.ctl("account", "list").stdout


def test_account_del(srv):
	srv.ctl("account", "add", "gone@example.test", input="pw-gone-1\n")
	srv.ctl("account", "del", "gone@example.test")
	assert "gone@example.test" not in srv.ctl("account", "list").stdout


def test_alias_add_list_del(srv):
	srv.ctl("alias", "add", "info@example.test", DEMO)
	srv.ctl("alias", "add", "info@example.test", "someone@elsewhere.example")
	out = srv.ctl("alias", "list").stdout
	assert "info@example.test" in out and "someone@elsewhere.example" in out
	assert "postmaster@example.test" in out and "@catchall.test" in out, out
	srv.ctl("alias", "del", "info@example.test", "someone@elsewhere.example")
	out = srv.ctl("alias", "list").stdout
	assert "someone@elsewhere.example" not in out
	assert "info@example.test" in out
	srv.ctl("alias", "del", "info@example.test")
	assert "info@example.test" not in srv.ctl("alias", "list").stdout


def test_alias_errors(srv):
	fails(srv, "alias", "add", "x@nosuch.example", DEMO, needle="domain")
	fails(srv, "alias", "add", "x@example.test", "not an address")
	fails(srv, "alias", "del", "nosuch@example.test")


def test_domain_del_after_emptying(srv):
	srv.ctl("alias", "del", "postmaster@example.test")
	srv.ctl("alias", "del", "@catchall.test")
	srv.ctl("account", "del", DEMO)
	srv.ctl("domain", "del", "example.test")
	srv.ctl("domain", "del", "catchall.test")
	assert "example.test" not in srv.ctl("domain", "list").stdout


def test_usage_errors(srv):
	fails(srv, "frobnicate")
	fails(srv, "domain")
	fails(srv, "domain", "add")
	fails(srv, "account", "add")


def test_bad_config_is_an_error(srv):
	srv.config["limits"]["frobnicate"] = "1"
	srv.write_config()
	fails(srv, "domain", "list", needle="frobnicate")


def test_queue_list_empty(srv):
	r = srv.ctl("queue", "list")
	assert r.returncode == 0


def test_changes_apply_to_running_daemon(srv):
	srv.start()
	with RawSMTP(srv.smtp_port) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<a@client.example.org>", 250)
		c.expect("RCPT TO:<carol@example.test>", 550)
		srv.ctl("account", "add", "carol@example.test", input="carol-pw-1\n")
		c.expect("RCPT TO:<carol@example.test>", 250)
		srv.ctl("domain", "add", "late.example")
		c.expect("RCPT TO:<x@late.example>", 550)
		srv.ctl("alias", "add", "x@late.example", "carol@example.test")
		c.expect("RCPT TO:<x@late.example>", 250)
		c.expect("DATA", 354)
		msg = make_message("to carol")
		c.send(msg + b".\r\n")
		assert c.reply()[0] == 250
	(data,) = srv.wait_delivered(1, user="carol@example.test")
	assert data.endswith(msg)
	assert srv.maildir_files() == []


def test_queue_list_while_running(srv):
	srv.start()
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.sendmail("a@client.example.org", [DEMO], make_message("q"))
	srv.wait_delivered(1)
	r = srv.ctl("queue", "list")
	assert r.returncode == 0


def test_moatctl_help(moat_binaries):
	import subprocess
	r = subprocess.run([str(MOATCTL)], capture_output=True, text=True,
	    timeout=20)
	assert r.returncode != 0
	assert "domain" in (r.stderr + r.stdout)


def test_log_rejected_lists_refusals(moat_server):
	"""moatctl log rejected: every refusal is a row (newest first), and
	--ip / --limit / --since filter them."""
	srv = moat_server
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<a@client.example.org>", 250)
		c.expect("RCPT TO:<nobody@example.test>", 550)
		c.expect("RCPT TO:<user@other.example>", 554)
	# Rows are written from the thread pool, just after the reply.
	def rows():
		return [ln.split("\t") for ln in
		    srv.ctl("log", "rejected").stdout.splitlines()]
	got = wait_until(lambda: len(rows()) == 2 and rows(), 5)
	assert got, rows()
	# time, service, ip, rdns, session, helo, from, rcpt, code, rule,
	# reason, ref, shadow
	assert got[0][1] == "smtp" and got[0][2] == OUTSIDE
	assert got[0][7] == "user@other.example" and got[0][8] == "554"
	assert got[1][7] == "nobody@example.test" and got[1][8] == "550"
	assert got[0][4] == got[1][4]		# one session id
	# The reference in the reply is the one stored.
	ref = got[0][11]
	assert re.fullmatch(r"[0-9A-Z]{8}", ref), got[0]
	assert f"[ref {ref}]" in got[0][10], got[0]
	assert got[0][12] == "" and got[1][11] == ref
	assert srv.ctl("log", "rejected", "--ip", "127.0.0.9").stdout == ""
	assert len(srv.ctl("log", "rejected", "--limit", "1").stdout
	    .splitlines()) == 1
	assert len(srv.ctl("log", "rejected", "--since", "1h").stdout
	    .splitlines()) == 2
	r = srv.ctl("log", "rejected", "--since", "soon", check=False)
	assert r.returncode == 2 and "--since" in r.stderr


def test_queue_hold_release_delete(srv):
	"""A message deferred (the mailbox full for now) stays queued:
	moatctl queue hold and delete act on it by id; a bad or unknown id
	is an error that names it (delete, release)."""
	srv.ctl("account", "set", DEMO, "quota=4K")
	srv.start()
	body = ("x" * 70 + "\r\n") * 30
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.sendmail("a@client.example.org", [DEMO], make_message("fill",
		    body=body))
	srv.wait_delivered(1)
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		# no SIZE=: RCPT cannot know, delivery finds no room yet
		s.ehlo("client.example.org")
		assert s.mail("a@client.example.org")[0] == 250
		assert s.rcpt(DEMO)[0] == 250
		assert s.data(make_message("stuck", body=body))[0] == 250
	assert srv.wait_log(r"event=over-quota"), "no deferral"
	[entry] = srv.queue_list()
	qid = entry[0]
	assert srv.ctl("queue", "hold", qid).stdout == f"held {qid}\n"
	assert wait_until(lambda: "held" in srv.queue_list()[0], 5), \
	    srv.queue_list()
	# (Released, it would be retried at once; held, it stays.)
	r = srv.ctl("queue", "delete", qid, "not-an-id", check=False)
	assert r.returncode == 1
	assert r.stdout == f"deleted {qid}\n"
	assert "moatctl: not-an-id: not a queue id" in r.stderr, r.stderr
	assert srv.queue_list() == []
	for cmd in ("delete", "release"):
		r = srv.ctl("queue", cmd, qid, check=False)
		assert r.returncode == 1 and f"moatctl: {qid}: no such message " \
		    "in the queue" in r.stderr, (cmd, r.stderr)
