"""POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034) against a
real moatd: Python's poplib over plain (cleartext_loopback), STLS and
pop3s, raw sockets for abuse cases, and fetchmail as a real client."""
import base64
import os
import poplib
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import (DEMO, DEMO_PW, check_delivered, free_ports,
    make_message, tls_client_context, wait_until)


def pop3_server(make_server, cleartext=True, overrides=None):
	p, ps = free_ports(2)
	ov = {"listen": {"pop3": f"127.0.0.1:{p}", "pop3s": f"127.0.0.1:{ps}"}}
	if cleartext:
		ov["auth"] = {"cleartext_loopback": "yes"}
	for sec, kv in (overrides or {}).items():
		ov.setdefault(sec, {}).update(kv)
	srv = make_server(overrides=ov)
	srv.pop3_port = p
	srv.pop3s_port = ps
	return srv


def send(srv, msg, rcpt=DEMO, sender="sender@client.example.org"):
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.sendmail(sender, [rcpt], msg)


def login(srv, user=DEMO, pw=DEMO_PW):
	p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(user)
	p.pass_(pw)
	return p


def retr_bytes(p, n):
	_, lines, _ = p.retr(n)
	return b"".join(ln + b"\r\n" for ln in lines)


def index_rows(srv):
	db = sqlite3.connect(str(srv.maildir() / "moat-index.db"))
	try:
		return db.execute("select uid, base from messages order by uid") \
		    .fetchall()
	finally:
		db.close()


def cur_files(srv):
	return srv.maildir_files(sub="cur")


class RawPOP3:
	def __init__(self, port, tls=False, timeout=10):
		self.sock = socket.create_connection(("127.0.0.1", port),
		    timeout=timeout)
		if tls:
			self.sock = tls_client_context().wrap_socket(self.sock)
		self.buf = b""

	def line(self):
		for _ in range(10000):
			i = self.buf.find(b"\r\n")
			if i >= 0:
				ln, self.buf = self.buf[:i], self.buf[i + 2:]
				return ln
			chunk = self.sock.recv(65536)
			if not chunk:
				raise EOFError("closed")
			self.buf += chunk
		raise AssertionError("line loop bound")

	def cmd(self, text):
		self.sock.sendall(text.encode() + b"\r\n"
		    if isinstance(text, str) else text + b"\r\n")
		return self.line()

	def multi(self):
		out = []
		for _ in range(10000):
			ln = self.line()
			if ln == b".":
				return out
			out.append(ln)
		raise AssertionError("multi-line bound")

	def eof(self, timeout=5):
		self.sock.settimeout(timeout)
		try:
			for _ in range(1000):
				if not self.sock.recv(65536):
					return True
		except (ConnectionResetError, BrokenPipeError):
			return True
		except socket.timeout:
			return False
		return False

	def close(self):
		self.sock.close()


def test_retr_list_uidl_top_byte_identical(make_server):
	srv = pop3_server(make_server)
	body = ("line one\r\n.starts with a dot\r\n..two dots\r\n"
	    "last line\r\n")
	m1 = make_message("first", body=body)
	m2 = make_message("second")
	send(srv, m1)
	srv.wait_delivered(1)
	send(srv, m2)
	files = srv.wait_delivered(2)
	p = login(srv)
	try:
		count, size = p.stat()
		assert count == 2
		assert size == sum(len(f) for f in files)
		_, lst, _ = p.list()
		sizes = [int(ln.split()[1]) for ln in lst]
		got1 = retr_bytes(p, 1)
		got2 = retr_bytes(p, 2)
		assert got1 in files and got2 in files
		check_delivered(got1, m1)
		check_delivered(got2, m2)
		assert sizes == [len(got1), len(got2)]
		assert p.list(1).split()[2] == str(len(got1)).encode()
		_, uidl, _ = p.uidl()
		ids = [ln.split()[1] for ln in uidl]
		assert len(set(ids)) == 2
		assert all(b"." in i and 1 <= len(i) <= 70 for i in ids)
		assert p.uidl(2).split()[2] == ids[1]
		# TOP 1 0: the header only; TOP 1 1: and the first body line.
		_, top0, _ = p.top(1, 0)
		assert top0[-1] == b""
		assert b"Subject: first" in top0
		assert b"line one" not in top0
		_, top1, _ = p.top(1, 1)
		assert top1[-1] == b"line one"
		_, top9, _ = p.top(1, 99)
		assert b"".join(ln + b"\r\n" for ln in top9) == got1
		# The index has moved everything to cur/.
		assert srv.maildir_files(sub="new") == []
		assert len(cur_files(srv)) == 2
		p.noop()
	finally:
		p.quit()
	assert len(cur_files(srv)) == 2


def test_dele_quit_expunges_file_and_row_rset_undoes(make_server):
	srv = pop3_server(make_server)
	for i in range(3):
		send(srv, make_message(f"m{i}"))
		srv.wait_delivered(i + 1, settle=0)
	p = login(srv)
	_, before, _ = p.uidl()
	p.dele(1)
	with pytest.raises(poplib.error_proto):
		p.retr(1)
	p.rset()
	assert p.stat()[0] == 3
	p.dele(2)
	assert p.stat()[0] == 2
	assert b"+OK" in p.quit()
	assert len(cur_files(srv)) == 2
	rows = index_rows(srv)
	assert [r[0] for r in rows] == [1, 3]
	p = login(srv)
	_, after, _ = p.uidl()
	p.quit()
	ids_before = [ln.split()[1] for ln in before]
	ids_after = [ln.split()[1] for ln in after]
	assert ids_after == [ids_before[0], ids_before[2]]


def test_uidl_stable_across_sessions_and_new_mail(make_server):
	srv = pop3_server(make_server)
	send(srv, make_message("a"))
	srv.wait_delivered(1)
	p = login(srv)
	first = p.uidl()[1]
	p.quit()
	send(srv, make_message("b"))
	wait_until(lambda: srv.maildir_files(sub="new"), 10)
	p = login(srv)
	second = p.uidl()[1]
	p.quit()
	assert second[0] == first[0]
	assert len(second) == 2 and second[1] != second[0]


def test_second_login_in_use(make_server):
	srv = pop3_server(make_server)
	send(srv, make_message("x"))
	srv.wait_delivered(1)
	p1 = login(srv)
	p2 = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	p2.user(DEMO)
	with pytest.raises(poplib.error_proto) as e:
		p2.pass_(DEMO_PW)
	assert b"[IN-USE]" in e.value.args[0]
	p1.quit()
	# The lock went with the first session.
	p2.user(DEMO)
	p2.pass_(DEMO_PW)
	assert p2.stat()[0] == 1
	p2.quit()


def test_lock_released_when_client_vanishes(make_server):
	srv = pop3_server(make_server)
	p1 = login(srv)
	p1.sock.close()
	p1.file.close()

	def can_login():
		try:
			login(srv).quit()
			return True
		except poplib.error_proto:
			return False
	assert wait_until(can_login, 5)


def test_wrong_password_delayed_and_logged(make_server):
	srv = pop3_server(make_server)
	p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(DEMO)
	t0 = time.monotonic()
	with pytest.raises(poplib.error_proto) as e:
		p.pass_("wrong-password")
	assert time.monotonic() - t0 >= 0.9
	assert e.value.args[0].startswith(b"-ERR [AUTH]")
	p.user("nobody@example.test")
	with pytest.raises(poplib.error_proto):
		p.pass_("x")
	p.user(DEMO)
	p.pass_(DEMO_PW)
	p.quit()
	log = srv.log_text()
	assert "auth service=pop3" in log and "result=fail" in log
	assert "wrong-password" not in log


def test_pop3_off_refuses_login(make_server):
	srv = pop3_server(make_server)
	srv.ctl("account", "set", DEMO, "pop3=off")
	p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(DEMO)
	with pytest.raises(poplib.error_proto) as e:
		p.pass_(DEMO_PW)
	assert b"[AUTH]" in e.value.args[0]
	p.quit()


def test_auth_plain_sasl(make_server):
	srv = pop3_server(make_server)
	r = RawPOP3(srv.pop3_port)
	assert r.line().startswith(b"+OK")
	cred = base64.b64encode(b"\0" + DEMO.encode() + b"\0" +
	    DEMO_PW.encode()).decode()
	assert r.cmd("AUTH PLAIN").startswith(b"+ ")
	assert r.cmd(cred).startswith(b"+OK")
	assert r.cmd("STAT").startswith(b"+OK 0 0")
	assert r.cmd("QUIT").startswith(b"+OK")
	r.close()
	r = RawPOP3(srv.pop3_port)
	r.line()
	assert r.cmd("AUTH PLAIN " + cred).startswith(b"+OK")
	r.cmd("QUIT")
	r.close()
	# "*" cancels.
	r = RawPOP3(srv.pop3_port)
	r.line()
	r.cmd("AUTH PLAIN")
	assert r.cmd("*").startswith(b"-ERR")
	r.close()


def test_bad_commands_long_line_and_error_limit(make_server):
	srv = pop3_server(make_server)
	r = RawPOP3(srv.pop3_port)
	r.line()
	assert r.cmd("FOO").startswith(b"-ERR")
	assert r.cmd("RETR 1").startswith(b"-ERR")		# not logged in
	assert r.cmd("A" * 300).startswith(b"-ERR Line too long")
	assert r.cmd("APOP demo 0123").startswith(b"-ERR")
	assert r.cmd("CAPA").startswith(b"+OK")
	r.multi()
	# errors = 5 in the test config: the fifth closes.
	assert r.cmd("BAR").startswith(b"-ERR")
	assert r.eof()
	r.close()
	r = RawPOP3(srv.pop3_port)
	r.line()
	r.cmd("USER " + DEMO)
	r.cmd("PASS " + DEMO_PW)
	for bad in ("RETR 0", "RETR 1", "TOP 1", "LIST x"):
		assert r.cmd(bad).startswith(b"-ERR"), bad
	assert r.cmd("QUIT").startswith(b"+OK")
	r.close()


def test_pipelining(make_server):
	srv = pop3_server(make_server)
	send(srv, make_message("pipe"))
	srv.wait_delivered(1)
	r = RawPOP3(srv.pop3_port)
	r.line()
	r.sock.sendall(f"USER {DEMO}\r\nPASS {DEMO_PW}\r\nSTAT\r\nRETR 1\r\n"
	    "UIDL 1\r\nQUIT\r\n".encode())
	assert r.line().startswith(b"+OK")
	assert r.line().startswith(b"+OK")
	assert r.line().startswith(b"+OK 1 ")
	assert r.line().startswith(b"+OK")
	body = r.multi()
	assert any(b"Subject: pipe" in ln for ln in body)
	assert r.line().startswith(b"+OK 1 ")
	assert r.line().startswith(b"+OK")
	r.close()


def test_idle_timeout(make_server):
	srv = pop3_server(make_server)
	r = RawPOP3(srv.pop3_port)
	r.line()
	t0 = time.monotonic()
	assert r.line().startswith(b"-ERR")
	assert time.monotonic() - t0 >= 2
	assert r.eof()
	r.close()


def test_cleartext_refused_without_tls_then_stls(make_server):
	srv = pop3_server(make_server, cleartext=False)
	send(srv, make_message("tls"))
	srv.wait_delivered(1)
	p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	caps = p.capa()
	assert "STLS" in caps and "USER" not in caps
	assert not caps.get("SASL")
	with pytest.raises(poplib.error_proto) as e:
		p.user(DEMO)
	assert b"[AUTH]" in e.value.args[0] and b"TLS" in e.value.args[0]
	with pytest.raises(poplib.error_proto):
		p._shortcmd("AUTH PLAIN " + base64.b64encode(
		    b"\0" + DEMO.encode() + b"\0" + DEMO_PW.encode()).decode())
	p.stls(context=tls_client_context())
	caps = p.capa()
	assert "STLS" not in caps and "USER" in caps
	assert "PLAIN" in caps["SASL"]
	p.user(DEMO)
	p.pass_(DEMO_PW)
	assert p.stat()[0] == 1
	p.quit()


def test_stls_discards_pipelined_plaintext(make_server):
	srv = pop3_server(make_server, cleartext=False)
	r = RawPOP3(srv.pop3_port)
	r.line()
	r.sock.sendall(b"STLS\r\nUSER injected\r\n")
	assert r.line().startswith(b"+OK")
	assert r.buf == b""
	r.sock = tls_client_context().wrap_socket(r.sock)
	# The injected USER was dropped: PASS finds no USER.
	assert r.cmd("PASS x").startswith(b"-ERR")
	assert r.cmd("QUIT").startswith(b"+OK")
	r.close()


def test_pop3s_implicit_tls(make_server):
	srv = pop3_server(make_server, cleartext=False)
	m = make_message("over tls")
	send(srv, m)
	srv.wait_delivered(1)
	p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, timeout=10,
	    context=tls_client_context())
	assert "STLS" not in p.capa()
	p.user(DEMO)
	p.pass_(DEMO_PW)
	check_delivered(retr_bytes(p, 1), m)
	p.dele(1)
	p.quit()
	assert cur_files(srv) == [] and index_rows(srv) == []
	assert "auth service=pop3 ip=127.0.0.1" in srv.log_text()


def test_lf_only_file_is_sent_as_crlf(make_server):
	srv = pop3_server(make_server)
	cur = srv.maildir() / "cur"
	path = cur / "1600000000.Qlf.host:2,"
	path.write_bytes(b"Subject: lf\n\n.dot\nbody\n")
	shutil.chown(path, user=cur.owner(), group=cur.group())
	want = b"Subject: lf\r\n\r\n.dot\r\nbody\r\n"
	p = login(srv)
	assert p.list(1).split()[2] == str(len(want)).encode()
	assert retr_bytes(p, 1) == want
	p.quit()


def test_large_message_streamed(make_server):
	srv = pop3_server(make_server)
	body = "".join(f"line {i:06d} " + "x" * 60 + "\r\n"
	    for i in range(12000))
	m = make_message("big", body=body)
	send(srv, m)
	srv.wait_delivered(1)
	for port_tls in (False, True):
		if port_tls:
			p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port,
			    timeout=20, context=tls_client_context())
			p.user(DEMO)
			p.pass_(DEMO_PW)
		else:
			p = login(srv)
		check_delivered(retr_bytes(p, 1), m)
		p.quit()


@pytest.mark.skipif(shutil.which("fetchmail") is None,
    reason="fetchmail is not installed (scripts/deps.sh test)")
def test_fetchmail_over_pop3s(make_server, tmp_path):
	srv = pop3_server(make_server, cleartext=False)
	msgs = [make_message(f"fetch {i}") for i in range(3)]
	for i, m in enumerate(msgs):
		send(srv, m)
		srv.wait_delivered(i + 1, settle=0)
	out = tmp_path / "fetched.mbox"
	rc = tmp_path / "fetchmailrc"
	rc.write_text(
	    "set no bouncemail\n"
	    f"poll 127.0.0.1 service {srv.pop3s_port} proto pop3 "
	    "auth password timeout 20\n"
	    f"  user \"{DEMO}\" there with password \"{DEMO_PW}\" is root "
	    "here\n"
	    "  ssl sslproto TLS1.2+ no sslcertck\n"
	    f"  mda \"cat >> {out}\"\n")
	rc.chmod(0o600)
	env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
	r = subprocess.run(["fetchmail", "-f", str(rc), "-v", "--nodetach"],
	    capture_output=True, text=True, timeout=60, env=env)
	assert r.returncode == 0, r.stdout + r.stderr
	data = out.read_bytes()
	for m in msgs:
		assert m.replace(b"\r\n", b"\n") in data, data[:2000]
	# fetchmail deletes what it fetched (no "keep").
	assert cur_files(srv) == [] and index_rows(srv) == []
