"""IMAP (RFC 9051 / RFC 3501 and the extensions moat advertises) against a
real moatd: Python's imaplib over plain (cleartext_loopback), STARTTLS and
imaps, raw sockets for IDLE, concurrency and abuse cases, POP3 alongside,
and fetchmail as a real IMAP client."""
import base64
import imaplib
import os
import poplib
import re
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import (DEMO, DEMO_PW, free_ports, make_message,
    tls_client_context, wait_until)

MULTIPART = (
    b"From: =?UTF-8?Q?J=C3=BCrgen?= <jurgen@client.example.org>\r\n"
    b"To: Demo User <demo@example.test>, other@example.org\r\n"
    b"Cc: cc@example.org\r\n"
    b"Subject: Quarterly report\r\n"
    b"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
    b"Message-ID: <mp-1@client.example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--XyZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"The numbers are in: gr=C3=BCn pineapple.\r\n"
    b"--XyZ\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQF\r\n"
    b"--XyZ--\r\n")

EXPECT_ENVELOPE = (
    b'ENVELOPE ("Mon, 2 Mar 2026 10:00:00 +0000" "Quarterly report" '
    b'(("=?UTF-8?Q?J=C3=BCrgen?=" NIL "jurgen" "client.example.org")) '
    b'(("=?UTF-8?Q?J=C3=BCrgen?=" NIL "jurgen" "client.example.org")) '
    b'(("=?UTF-8?Q?J=C3=BCrgen?=" NIL "jurgen" "client.example.org")) '
    b'(("Demo User" NIL "demo" "example.test")(NIL NIL "other" '
    b'"example.org")) ((NIL NIL "cc" "example.org")) NIL NIL '
    b'"<mp-1@client.example.org>")')

EXPECT_BODYSTRUCTURE = (
    b'BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL '
    b'"quoted-printable" 40 0 NIL NIL NIL NIL)("application" '
    b'"octet-stream" ("name" "data.bin") NIL NIL "base64" 8 NIL '
    b'("attachment" ("filename" "data.bin")) NIL NIL) "mixed" '
    b'("boundary" "XyZ") NIL NIL NIL)')


def imap_server(make_server, cleartext=True, overrides=None, pop3=False):
	p, ps, p3 = free_ports(3)
	ov = {"listen": {"imap": f"127.0.0.1:{p}", "imaps": f"127.0.0.1:{ps}"}}
	if pop3:
		ov["listen"]["pop3"] = f"127.0.0.1:{p3}"
	if cleartext:
		ov["auth"] = {"cleartext_loopback": "yes"}
	for sec, kv in (overrides or {}).items():
		ov.setdefault(sec, {}).update(kv)
	srv = make_server(overrides=ov)
	srv.imap_port = p
	srv.imaps_port = ps
	srv.pop3_port = p3
	return srv


def send(srv, msg, rcpt=DEMO, sender="sender@client.example.org"):
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.sendmail(sender, [rcpt], msg)


def deliver(srv, *msgs):
	"""Send msgs over SMTP and wait until all are in the Maildir."""
	start = count_messages(srv)
	for i, m in enumerate(msgs):
		send(srv, m)
		wait_until(lambda: count_messages(srv) >= start + i + 1, 10)
	assert count_messages(srv) >= start + len(msgs)


def count_messages(srv):
	return len(srv.maildir_files(sub="new")) + len(srv.maildir_files(sub="cur"))


def login(srv, user=DEMO, pw=DEMO_PW):
	m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
	typ, _ = m.login(user, pw)
	assert typ == "OK"
	return m


def ok(res):
	typ, data = res
	assert typ == "OK", (typ, data)
	return data


def fetch_parts(data):
	"""imaplib fetch data -> list of (header bytes, literal or None)."""
	out = []
	for d in data:
		if isinstance(d, tuple):
			out.append(d)
	return out


class RawIMAP:
	def __init__(self, port, tls=False, timeout=10):
		self.sock = socket.create_connection(("127.0.0.1", port),
		    timeout=timeout)
		if tls:
			self.sock = tls_client_context().wrap_socket(self.sock)
		self.buf = b""
		self.n = 0

	def line(self):
		for _ in range(100000):
			i = self.buf.find(b"\r\n")
			if i >= 0:
				ln, self.buf = self.buf[:i], self.buf[i + 2:]
				return ln
			chunk = self.sock.recv(65536)
			if not chunk:
				raise EOFError("closed")
			self.buf += chunk
		raise AssertionError("line loop bound")

	def send(self, data):
		self.sock.sendall(data)

	def cmd(self, text):
		"""Send a tagged command; return (untagged lines, tagged line)."""
		self.n += 1
		tag = f"r{self.n}".encode()
		data = text.encode() if isinstance(text, str) else text
		self.sock.sendall(tag + b" " + data + b"\r\n")
		return self.until(tag)

	def until(self, tag):
		lines = []
		for _ in range(100000):
			ln = self.line()
			if ln.startswith(tag + b" "):
				return lines, ln
			lines.append(ln)
		raise AssertionError("response bound")

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


def raw_login(srv):
	r = RawIMAP(srv.imap_port)
	assert r.line().startswith(b"* OK")
	_, t = r.cmd(f'LOGIN "{DEMO}" "{DEMO_PW}"')
	assert b" OK " in t, t
	return r


# --------------------------------------------------------------------------

def test_capabilities_login_and_logout(make_server):
	srv = imap_server(make_server)
	m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
	caps = set(m.capabilities)
	for c in ("IMAP4REV1", "IMAP4REV2", "LITERAL+", "SASL-IR", "ID",
	    "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
	    "CHILDREN", "SPECIAL-USE", "ESEARCH", "APPENDLIMIT=1048576",
	    "STARTTLS", "AUTH=PLAIN"):
		assert c in caps, (c, caps)
	assert "LOGINDISABLED" not in caps	# cleartext_loopback
	ok(m.login(DEMO, DEMO_PW))
	typ, data = m.capability()
	assert typ == "OK" and b"STARTTLS" not in data[0]
	assert b"AUTH=" not in data[0]
	ok(m.noop())
	ok(m.namespace())
	assert m.logout()[0] == "BYE"
	assert srv.wait_log(r"imap session=\w+ tag=\"\w+\" cmd=LOGOUT "
	    r"result=OK")


def test_logindisabled_before_tls_then_starttls(make_server):
	srv = imap_server(make_server, cleartext=False)
	m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
	assert "LOGINDISABLED" in m.capabilities
	assert not any(c.startswith("AUTH=PLAIN") for c in m.capabilities)
	with pytest.raises(imaplib.IMAP4.error):
		m.login(DEMO, DEMO_PW)
	ok(m.starttls(ssl_context=tls_client_context()))
	assert "LOGINDISABLED" not in m.capabilities
	assert "STARTTLS" not in m.capabilities
	ok(m.login(DEMO, DEMO_PW))
	ok(m.select("INBOX"))
	m.logout()


def test_imaps_authenticate_plain_and_bad_password(make_server):
	srv = imap_server(make_server, cleartext=False)
	m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port,
	    ssl_context=tls_client_context(), timeout=10)
	assert "AUTH=PLAIN" in m.capabilities
	with pytest.raises(imaplib.IMAP4.error) as e:
		m.authenticate("PLAIN",
		    lambda _: f"\0{DEMO}\0wrong".encode())
	assert "AUTHENTICATIONFAILED" in str(e.value)
	ok(m.authenticate("PLAIN", lambda _: f"\0{DEMO}\0{DEMO_PW}".encode()))
	ok(m.select())
	m.logout()
	assert srv.wait_log(r"auth service=imap .*result=fail")


def test_sasl_ir_on_raw_socket(make_server):
	srv = imap_server(make_server)
	r = RawIMAP(srv.imap_port)
	r.line()
	ir = base64.b64encode(f"\0{DEMO}\0{DEMO_PW}".encode()).decode()
	_, t = r.cmd(f"AUTHENTICATE PLAIN {ir}")
	assert b" OK " in t, t
	_, t = r.cmd("SELECT INBOX")
	assert b"OK [READ-WRITE]" in t
	r.close()


def test_list_special_use_folders(make_server):
	srv = imap_server(make_server)
	m = login(srv)
	data = ok(m.list())
	got = {}
	for ln in data:
		mm = re.match(rb'\(([^)]*)\) "/" "?([^"]*)"?', ln)
		got[mm.group(2).decode()] = mm.group(1).decode()
	for name, attr in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"),
	    ("Junk", "\\Junk"), ("Trash", "\\Trash"),
	    ("Archive", "\\Archive")):
		assert attr in got[name], got
	assert "INBOX" in got
	# On disk: Maildir++ folders
	for name in ("Sent", "Drafts", "Junk", "Trash", "Archive"):
		assert (srv.maildir() / f".{name}" / "cur").is_dir()
	ok(m.create("Projects/2026"))
	assert (srv.maildir() / ".Projects.2026" / "cur").is_dir()
	data = ok(m.list('""', "Projects/*"))
	assert data == [b'(\\HasNoChildren) "/" "Projects/2026"'], data
	data = ok(m.list('""', "%"))
	assert not any(b"Projects/2026" in d for d in data)
	typ, _ = m.create("bad.name")
	assert typ == "NO"
	ok(m.lsub())
	ok(m.rename("Projects/2026", "Projects/Old"))
	ok(m.delete("Projects/Old"))
	assert not (srv.maildir() / ".Projects.Old").exists()
	data = ok(m.status("Sent", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"))
	assert re.search(rb"MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0",
	    data[0]), data
	m.logout()


def test_select_fetch_body_envelope_bodystructure(make_server):
	srv = imap_server(make_server)
	plain = make_message("plain one", body="hello\r\nworld\r\n")
	deliver(srv, plain, MULTIPART)
	m = login(srv)
	typ, data = m.select("INBOX")
	assert typ == "OK" and data == [b"2"]
	assert m.untagged_responses.get("UIDVALIDITY")
	assert m.untagged_responses["UIDNEXT"] == [b"3"]
	files = sorted(srv.maildir_files(sub="cur"),
	    key=lambda p: p.stat().st_mtime_ns)
	raws = {f.read_bytes() for f in files}
	for seq in (1, 2):
		data = ok(m.fetch(str(seq), "(UID RFC822.SIZE BODY.PEEK[])"))
		hdr, body = data[0]
		assert body in raws
		size = int(re.search(rb"RFC822.SIZE (\d+)", hdr).group(1))
		assert size == len(body)
	# the multipart one: ENVELOPE and BODYSTRUCTURE as expected
	data = ok(m.fetch("2", "(ENVELOPE BODYSTRUCTURE)"))
	line = data[0] if isinstance(data[0], bytes) else \
	    b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
	assert EXPECT_ENVELOPE in line, line
	assert EXPECT_BODYSTRUCTURE in line, line
	# again, now answered from the index's cached strings: same octets
	for _ in range(2):
		again = ok(m.fetch("2", "(ENVELOPE BODYSTRUCTURE BODY)"))
		again = again[0] if isinstance(again[0], bytes) else \
		    b"".join(x if isinstance(x, bytes) else b"".join(x)
		    for x in again)
		assert EXPECT_ENVELOPE in again, again
		assert EXPECT_BODYSTRUCTURE in again, again
		assert b" BODY ((" in again, again
	data = ok(m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME] "
	    "BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.8>)"))
	parts = fetch_parts(data)
	assert parts[0][1] == b"The numbers are in: gr=C3=BCn pineapple."
	assert parts[1][1].startswith(b"Content-Type: application/octet")
	assert parts[2][1] == b"Subject: Quarterly report\r\n\r\n"
	assert parts[3][1] == b"preamble"
	assert b"BODY[TEXT]<0>" in parts[3][0]
	# PEEK leaves \Seen alone; BODY[] sets it
	data = ok(m.fetch("1", "(FLAGS)"))
	assert b"\\Seen" not in data[0]
	data = ok(m.fetch("1", "(BODY[])"))
	assert b"\\Seen" in b"".join(
	    x if isinstance(x, bytes) else x[0] for x in data)
	data = ok(m.fetch("1", "(FLAGS)"))
	assert b"\\Seen" in data[0]
	data = ok(m.uid("FETCH", "1:*", "(FLAGS)"))
	assert len(data) == 2
	m.logout()


def test_store_flags_persist_and_uids_stable(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("a"), make_message("b"), make_message("c"))
	m = login(srv)
	ok(m.select())
	uids1 = ok(m.uid("SEARCH", "ALL"))[0].split()
	assert uids1 == [b"1", b"2", b"3"]
	data = ok(m.store("2", "+FLAGS", "(\\Flagged \\Seen)"))
	assert b"\\Flagged" in data[0] and b"\\Seen" in data[0]
	ok(m.store("3", "+FLAGS.SILENT", "(\\Answered)"))
	m.logout()
	names = [f.name for f in srv.maildir_files(sub="cur")]
	assert any(n.endswith(":2,FS") for n in names), names
	assert any(n.endswith(":2,R") for n in names), names
	m = login(srv)
	ok(m.select())
	assert ok(m.uid("SEARCH", "ALL"))[0].split() == uids1
	data = ok(m.fetch("1:3", "(UID FLAGS)"))
	assert b"UID 2 FLAGS (\\Flagged \\Seen)" in data[1], data
	assert b"UID 3 FLAGS (\\Answered)" in data[2], data
	ok(m.store("2", "-FLAGS", "(\\Flagged)"))
	data = ok(m.fetch("2", "(FLAGS)"))
	assert data[0] == b"2 (FLAGS (\\Seen))"
	m.logout()


def test_search_keys(make_server):
	srv = imap_server(make_server)
	deliver(srv,
	    make_message("alpha report", body="nothing special\r\n",
	    sender="alice@one.example"),
	    make_message("beta", body="the secret word is walrus\r\n",
	    sender="bob@two.example"),
	    MULTIPART)
	m = login(srv)
	ok(m.select())
	ok(m.store("1", "+FLAGS", "(\\Seen)"))
	s = lambda *k: ok(m.search(None, *k))[0].split()
	assert s("ALL") == [b"1", b"2", b"3"]
	assert s("UNSEEN") == [b"2", b"3"]
	assert s("SEEN") == [b"1"]
	assert s("FROM", "bob") == [b"2"]
	assert s("FROM", "jurgen") == [b"3"]
	assert s("SUBJECT", "REPORT") == [b"1", b"3"]
	assert s("TEXT", "walrus") == [b"2"]
	assert s("BODY", "pineapple") == [b"3"]
	assert s("OR", "FROM", "alice", "TEXT", "walrus") == [b"1", b"2"]
	assert s("NOT", "SUBJECT", "beta") == [b"1", b"3"]
	assert s("HEADER", "Message-ID", "mp-1") == [b"3"]
	assert s("SENTON", "2-Mar-2026") == [b"3"]
	assert s("LARGER", "100000") == []
	assert s("2:3", "UNSEEN") == [b"2", b"3"]
	assert ok(m.uid("SEARCH", "UID", "2:*"))[0].split() == [b"2", b"3"]
	assert ok(m.uid("SEARCH", "UID", "1,3"))[0].split() == [b"1", b"3"]
	typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)",
	    "ALL")
	assert typ == "OK"
	es = m.untagged_responses.pop("ESEARCH")[0]
	assert b"MIN 1 MAX 3 COUNT 3" in es, es
	typ, _ = m.search("KOI8-X", "ALL")
	assert typ == "NO"
	m.logout()


def test_copy_move_append_expunge(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("one"), make_message("two"),
	    make_message("three"))
	m = login(srv)
	ok(m.select())
	typ, data = m.copy("1:2", "Archive")
	assert typ == "OK"
	assert re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data
	typ, data = m.uid("MOVE", "3", "Trash")
	assert typ == "OK", data
	assert ok(m.search(None, "ALL"))[0].split() == [b"1", b"2"]
	assert len(list((srv.maildir() / ".Trash" / "cur").iterdir())) == 1
	msg = b"From: me@example.test\r\nSubject: draft\r\n\r\nbody\r\n"
	typ, data = m.append("Drafts", "(\\Draft \\Seen)",
	    imaplib.Time2Internaldate(1700000000), msg)
	assert typ == "OK"
	assert re.match(rb"\[APPENDUID \d+ 1\]", data[0]), data
	typ, data = m.append("NoSuchBox", None, None, msg)
	assert typ == "NO" and b"TRYCREATE" in data[0]
	ok(m.select("Drafts"))
	data = ok(m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])"))
	assert data[0][1] == msg
	assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]
	assert b'"14-Nov-2023 22:13:20 +0000"' in data[0][0], data
	ok(m.select("INBOX"))
	ok(m.store("1", "+FLAGS", "(\\Deleted)"))
	typ, data = m.expunge()
	assert typ == "OK" and data == [b"1"]
	assert ok(m.search(None, "ALL"))[0].split() == [b"1"]
	assert ok(m.uid("SEARCH", "ALL"))[0].split() == [b"2"]
	ok(m.select("Archive"))
	assert ok(m.search(None, "ALL"))[0].split() == [b"1", b"2"]
	m.logout()


def test_concurrent_sessions_see_changes(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("c1"), make_message("c2"),
	    make_message("c3"))
	a = raw_login(srv)
	b = raw_login(srv)
	a.cmd("SELECT INBOX")
	b.cmd("SELECT INBOX")
	_, t = a.cmd("STORE 2 +FLAGS (\\Deleted)")
	_, t = a.cmd("EXPUNGE")
	assert b" OK " in t
	lines, t = b.cmd("NOOP")
	assert b"* 2 EXPUNGE" in lines, lines
	deliver(srv, make_message("c4"))
	lines, t = b.cmd("NOOP")
	assert b"* 3 EXISTS" in lines, lines
	_, t = a.cmd("STORE 1 +FLAGS (\\Flagged)")
	lines, t = b.cmd("NOOP")
	assert any(re.match(rb"\* 1 FETCH \(FLAGS \(\\Flagged\)\)", ln)
	    for ln in lines), lines
	lines, t = b.cmd("UID SEARCH ALL")
	assert lines[-1] == b"* SEARCH 1 3 4", lines
	a.close()
	b.close()


def test_idle_sees_new_mail_quickly(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("first"))
	r = raw_login(srv)
	r.cmd("SELECT INBOX")
	r.send(b"i1 IDLE\r\n")
	assert r.line().startswith(b"+ ")
	t0 = time.monotonic()
	send(srv, make_message("during idle"))
	ln = r.line()
	assert ln == b"* 2 EXISTS", ln
	assert time.monotonic() - t0 < 3
	r.send(b"DONE\r\n")
	assert r.line().startswith(b"i1 OK")
	r.close()


def test_pop3_deletion_seen_by_imap(make_server):
	srv = imap_server(make_server, pop3=True)
	deliver(srv, make_message("p1"), make_message("p2"),
	    make_message("p3"))
	r = raw_login(srv)
	lines, _ = r.cmd("SELECT INBOX")
	assert b"* 3 EXISTS" in lines
	lines, _ = r.cmd("UID SEARCH ALL")
	assert lines[-1] == b"* SEARCH 1 2 3"
	p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(DEMO)
	p.pass_(DEMO_PW)
	p.dele(1)
	p.quit()
	lines, _ = r.cmd("NOOP")
	assert b"* 1 EXPUNGE" in lines, lines
	lines, _ = r.cmd("UID SEARCH ALL")
	assert lines[-1] == b"* SEARCH 2 3"
	r.close()


def test_imap_off_refuses_login(make_server):
	srv = imap_server(make_server)
	srv.ctl("account", "set", DEMO, "imap=off")
	m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
	with pytest.raises(imaplib.IMAP4.error):
		m.login(DEMO, DEMO_PW)
	assert srv.wait_log(r"auth service=imap .*result=fail")


def test_bad_commands_literals_and_error_limit(make_server):
	srv = imap_server(make_server)
	r = RawIMAP(srv.imap_port)
	r.line()
	_, t = r.cmd("FROB")
	assert b" BAD " in t
	_, t = r.cmd("SELECT INBOX")
	assert b" BAD " in t	# not authenticated
	# a literal over the pre-auth limit
	r.send(b"x1 LOGIN {999999}\r\n")
	ln = r.line()
	assert ln.startswith(b"x1 BAD") and b"TOOBIG" in ln, ln
	_, t = r.cmd("FROB")
	_, t = r.cmd("FROB")
	assert r.line().startswith(b"* BYE")
	assert r.eof()
	# after login: a too big APPEND literal is refused before upload
	r = raw_login(srv)
	r.send(b"a1 APPEND INBOX {2000000}\r\n")
	ln = r.line()
	assert ln.startswith(b"a1 BAD") or ln.startswith(b"a1 NO"), ln
	lines, t = r.cmd("NOOP")
	assert b" OK " in t
	_, t = r.cmd("LOGOUT")
	assert b" OK " in t
	r.close()


def test_big_fetch_streams(make_server):
	srv = imap_server(make_server, overrides={"limits":
	    {"message_size": "4M"}})
	body = ("x" * 998 + "\r\n") * 900
	msgs = [make_message(f"big {i}", body=body) for i in range(4)]
	deliver(srv, *msgs)
	m = login(srv)
	ok(m.select())
	data = ok(m.fetch("1:4", "(BODY.PEEK[])"))
	parts = fetch_parts(data)
	assert len(parts) == 4
	for p, orig in zip(parts, msgs):
		assert p[1].endswith(orig)
	m.logout()


@pytest.mark.skipif(shutil.which("fetchmail") is None,
    reason="fetchmail is not installed (scripts/deps.sh test)")
def test_fetchmail_over_imaps(make_server, tmp_path):
	srv = imap_server(make_server, cleartext=False)
	msgs = [make_message(f"fetch {i}") for i in range(3)]
	deliver(srv, *msgs)
	out = tmp_path / "fetched.mbox"
	rc = tmp_path / "fetchmailrc"
	rc.write_text(
	    "set no bouncemail\n"
	    f"poll 127.0.0.1 service {srv.imaps_port} proto imap "
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
	for msg in msgs:
		assert msg.replace(b"\r\n", b"\n") in data, data[:2000]
	# fetchmail marks \Deleted and expunges what it fetched
	m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port,
	    ssl_context=tls_client_context(), timeout=10)
	ok(m.login(DEMO, DEMO_PW))
	typ, d = m.select()
	assert d == [b"0"], d
	m.logout()


def test_enable_imap4rev2(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("rev2"))
	r = raw_login(srv)
	lines, t = r.cmd("ENABLE IMAP4rev2")
	assert lines == [b"* ENABLED IMAP4rev2"] and b" OK " in t
	lines, t = r.cmd("SELECT INBOX")
	assert not any(b"RECENT" in ln for ln in lines), lines
	assert b'* LIST () "/" "INBOX"' in lines, lines
	lines, t = r.cmd("UID SEARCH ALL")
	assert lines == [b'* ESEARCH (TAG "r4") UID ALL 1'], lines
	lines, t = r.cmd('CREATE "Gr\xc3\xbc\xc3\x9fe"'.encode("latin-1"))
	assert b" OK " in t, t
	assert (srv.maildir() / ".Gr&APwA3w-e").is_dir()
	lines, t = r.cmd('LIST "" "Gr*"')
	assert lines == ['* LIST (\\HasNoChildren) "/" "Grüße"'.encode()], \
	    lines
	r.close()


def test_fetch_whole_message_line_ends(make_server):
	"""BODY[], BINARY[], RFC822 and partials of files with bare LF,
	mixed and odd line ends: every bare LF is sent as CRLF."""
	cases = [b"\nSubject: x\n\nbody\n", b"Subject: y\r\n\r\nmixed\nline\r\nend",
	    b"\n\n\n", b"\r\n\n\r\r\n\n", b"Subject: z\n\n" + b"a\n" * 5000,
	    b"no line end at all", b"Subject: big\r\n\r\n" + b"x" * 9000 + b"\n"]
	srv = imap_server(make_server)
	deliver(srv, make_message("a"))
	cur = srv.maildir() / "cur"
	for i, c in enumerate(cases):
		# older than the delivered message: UIDs 1..len(cases)
		(cur / f"{1700000000 + i}.M1P1Q{i}.test:2,").write_bytes(c)
	m = login(srv)
	ok(m.select("INBOX"))
	for i, c in enumerate(cases):
		e = re.sub(rb"(?<!\r)\n", b"\r\n", c)
		p = fetch_parts(ok(m.uid("FETCH", str(i + 1), "(RFC822.SIZE "
		    "BODY.PEEK[] BODY.PEEK[]<3.5000> BINARY.PEEK[] RFC822)")))
		assert b"RFC822.SIZE %d " % len(e) in p[0][0]
		assert p[0][1] == e
		assert p[1][1] == e[3:5003]
		assert p[2][1] == e
		assert p[3][1] == e
	m.logout()
