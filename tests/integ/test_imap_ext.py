"""IMAP extensions against a real moatd: keywords, CONDSTORE/QRESYNC
(RFC 7162), SORT/THREAD (RFC 5256), QUOTA (RFC 9208) with delivery-time
enforcement, BINARY (RFC 3516) and STATUS=SIZE. Raw sockets where the
exact response matters, imaplib elsewhere."""
import re

from conftest import DEMO, make_message, wait_until
from test_imap import (MULTIPART, RawIMAP, deliver, imap_server, login, ok,
    raw_login)


def msg(subject, date="Mon, 2 Mar 2026 10:00:00 +0000", frm="a@x.example",
    to="demo@example.test", cc=None, msgid=None, refs=None, body="hi\r\n"):
	h = [f"From: {frm}", f"To: {to}", f"Subject: {subject}",
	    f"Date: {date}"]
	if cc:
		h.append(f"Cc: {cc}")
	if msgid:
		h.append(f"Message-ID: {msgid}")
	if refs:
		h.append(f"References: {refs}")
		h.append(f"In-Reply-To: {refs.split()[-1]}")
	return ("\r\n".join(h) + "\r\n\r\n" + body).encode()


def modseqs(lines):
	"""{uid: modseq} from FETCH lines."""
	out = {}
	for ln in lines:
		u = re.search(rb"UID (\d+)", ln)
		m = re.search(rb"MODSEQ \((\d+)\)", ln)
		if u and m:
			out[int(u.group(1))] = int(m.group(1))
	return out


# ---- keywords --------------------------------------------------------------

def test_keywords_persist_and_search(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("k1"), make_message("k2"))
	r = raw_login(srv)
	u, t = r.cmd("SELECT INBOX")
	assert any(b"PERMANENTFLAGS (" in ln and b"\\*)" in ln for ln in u), u
	u, t = r.cmd("STORE 1 +FLAGS ($Junk foo \\Seen)")
	assert b"OK" in t
	assert any(b"FLAGS (\\Seen $Junk foo)" in ln for ln in u), u
	u, t = r.cmd("STORE 1 -FLAGS (foo)")
	assert any(b"FLAGS (\\Seen $Junk)" in ln for ln in u), u
	u, t = r.cmd("SEARCH KEYWORD $junk")
	assert u == [b"* SEARCH 1"], u
	u, t = r.cmd("SEARCH UNKEYWORD $Junk")
	assert u == [b"* SEARCH 2"], u
	r.cmd("LOGOUT")
	r.close()
	# another session sees them, and FLAGS lists the keyword
	r = raw_login(srv)
	u, t = r.cmd("SELECT INBOX")
	assert any(ln.startswith(b"* FLAGS (") and b"$Junk" in ln
	    for ln in u), u
	u, t = r.cmd("FETCH 1:2 FLAGS")
	assert b"* 1 FETCH (FLAGS (\\Seen $Junk))" in u, u
	assert b"* 2 FETCH (FLAGS ())" in u, u
	# copy keeps keywords; APPEND takes them
	u, t = r.cmd("COPY 1 Archive")
	assert b"OK" in t
	u, t = r.cmd("APPEND Archive (Work) {4+}\r\nhi\r\n")
	assert b"OK" in t, t
	u, t = r.cmd("SELECT Archive")
	u, t = r.cmd("FETCH 1:2 FLAGS")
	assert b"* 1 FETCH (FLAGS (\\Seen $Junk))" in u, u
	assert b"* 2 FETCH (FLAGS (Work))" in u, u
	r.close()


# ---- CONDSTORE / QRESYNC -------------------------------------------------

def test_condstore_modseq_changedsince_unchangedsince(make_server):
	srv = imap_server(make_server)
	deliver(srv, make_message("c1"), make_message("c2"), make_message("c3"))
	r = raw_login(srv)
	u, t = r.cmd("CAPABILITY")
	assert b"CONDSTORE" in u[0] and b"QRESYNC" in u[0]
	u, t = r.cmd("SELECT INBOX (CONDSTORE)")
	hms = [ln for ln in u if b"HIGHESTMODSEQ" in ln]
	assert hms, u
	h0 = int(re.search(rb"HIGHESTMODSEQ (\d+)", hms[0]).group(1))
	u, t = r.cmd("UID FETCH 1:* (MODSEQ)")
	before = modseqs(u)
	assert len(before) == 3 and max(before.values()) <= h0
	u, t = r.cmd("UID STORE 2 +FLAGS (\\Flagged)")
	after = modseqs(u)
	assert after[2] > h0, (u, h0)
	# CHANGEDSINCE: only message 2
	u, t = r.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0})")
	assert len(u) == 1 and b"UID 2" in u[0] and b"MODSEQ" in u[0], u
	# UNCHANGEDSINCE conflict: 2 changed after h0, 1 did not
	u, t = r.cmd(f"UID STORE 1:2 (UNCHANGEDSINCE {h0}) +FLAGS (\\Seen)")
	assert b"[MODIFIED 2]" in t, t
	assert any(b"UID 1" in ln for ln in u), u
	# SEARCH MODSEQ
	u, t = r.cmd(f"SEARCH MODSEQ {h0 + 1}")
	assert u[0].startswith(b"* SEARCH 1 2 (MODSEQ "), u
	# STATUS HIGHESTMODSEQ grows
	r.cmd("CLOSE")
	u, t = r.cmd("STATUS INBOX (HIGHESTMODSEQ)")
	h1 = int(re.search(rb"HIGHESTMODSEQ (\d+)", u[0]).group(1))
	assert h1 > h0
	r.close()


def test_qresync_vanished(make_server):
	srv = imap_server(make_server)
	deliver(srv, *[make_message(f"q{i}") for i in range(5)])
	r = raw_login(srv)
	u, t = r.cmd("SELECT INBOX")
	uidv = int(re.search(rb"UIDVALIDITY (\d+)",
	    b"\n".join(u)).group(1))
	h0 = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(u)).group(1))
	r.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
	r.cmd("STORE 5 +FLAGS.SILENT (\\Answered)")
	u, t = r.cmd("EXPUNGE")
	assert b"* 2 EXPUNGE" in u and b"* 3 EXPUNGE" in u, u
	r.close()
	# a resyncing client
	r = raw_login(srv)
	u, t = r.cmd("SELECT INBOX (QRESYNC (1 1))")
	assert b"BAD" in t
	u, t = r.cmd("ENABLE QRESYNC")
	assert u == [b"* ENABLED QRESYNC"], u
	u, t = r.cmd(f"SELECT INBOX (QRESYNC ({uidv} {h0}))")
	assert b"OK" in t, t
	assert b"* VANISHED (EARLIER) 2,4" in u, u
	ch = [ln for ln in u if b"FETCH" in ln]
	assert len(ch) == 1 and b"UID 5" in ch[0] and b"\\Answered" in ch[0], u
	# known UIDs narrow VANISHED
	u, t = r.cmd(f"SELECT INBOX (QRESYNC ({uidv} {h0} 3:5))")
	assert b"* VANISHED (EARLIER) 4" in u, u
	u, t = r.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h0} VANISHED)")
	assert u[0] == b"* VANISHED (EARLIER) 2,4", u
	# expunges now arrive as VANISHED
	r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
	u, t = r.cmd("EXPUNGE")
	assert b"* VANISHED 1" in u and not any(b"EXPUNGE" in ln
	    for ln in u), u
	r.close()


# ---- SORT / THREAD ---------------------------------------------------------

def test_sort_and_thread(make_server):
	srv = imap_server(make_server)
	deliver(srv,
	    msg("Re: Banana", date="Tue, 3 Mar 2026 10:00:00 +0000",
	        frm="Zed <zed@x.example>", msgid="<b2@x>", refs="<b1@x>",
	        body="x" * 300 + "\r\n"),
	    msg("apple", date="Wed, 4 Mar 2026 09:00:00 +0100",
	        frm="amy@x.example", msgid="<a1@x>", body="short\r\n"),
	    msg("Banana", date="Mon, 2 Mar 2026 10:00:00 +0000",
	        frm="bob@x.example", msgid="<b1@x>", body="y" * 100 + "\r\n"),
	    msg("[list] Fwd: Cherry", date="Mon, 2 Mar 2026 08:00:00 -0500",
	        frm="carl@x.example", msgid="<c1@x>"),
	    msg("Re: Re: Banana", date="Thu, 5 Mar 2026 10:00:00 +0000",
	        frm="bob@x.example", msgid="<b3@x>", refs="<b1@x> <b2@x>"))
	r = raw_login(srv)
	u, t = r.cmd("CAPABILITY")
	assert b" SORT" in u[0] and b"THREAD=REFERENCES" in u[0]
	r.cmd("SELECT INBOX")
	u, t = r.cmd("SORT (SUBJECT) UTF-8 ALL")
	assert u == [b"* SORT 2 1 3 5 4"], u
	u, t = r.cmd("SORT (DATE) UTF-8 ALL")
	assert u == [b"* SORT 3 4 1 2 5"], u
	u, t = r.cmd("SORT (REVERSE SIZE) UTF-8 ALL")
	assert u == [b"* SORT 1 3 4 5 2"] or u[0].startswith(b"* SORT 1 3"), u
	u, t = r.cmd("SORT (FROM REVERSE DATE) UTF-8 ALL")
	assert u == [b"* SORT 2 5 3 4 1"], u
	u, t = r.cmd("UID SORT (ARRIVAL) UTF-8 SUBJECT banana")
	assert u == [b"* SORT 1 3 5"], u
	u, t = r.cmd("THREAD REFERENCES UTF-8 ALL")
	assert u == [b"* THREAD (3 1 5)(4)(2)"], u
	u, t = r.cmd("THREAD ORDEREDSUBJECT UTF-8 ALL")
	assert u == [b"* THREAD (3 (1)(5))(4)(2)"], u
	u, t = r.cmd("UID THREAD REFERENCES UTF-8 NOT SUBJECT cherry")
	assert u == [b"* THREAD (3 1 5)(2)"], u
	u, t = r.cmd("SORT (SUBJECT) KOI8-R ALL")
	assert b"BADCHARSET" in t
	r.close()


# ---- QUOTA -----------------------------------------------------------------

def smtp_rcpt(srv, rcpt, size=None):
	import smtplib
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.ehlo("client.example.org")
		opts = [f"SIZE={size}"] if size else []
		s.mail("sender@client.example.org", opts)
		code, text = s.rcpt(rcpt)
		s.rset()
		return code, text


def test_quota(make_server):
	srv = imap_server(make_server)
	body = "z" * 600 + "\r\n"
	deliver(srv, msg("one", body=body), msg("two", body=body))
	used = sum(p.stat().st_size for p in srv.maildir_files(sub="new") +
	    srv.maildir_files(sub="cur"))
	assert 1024 < used < 2048
	m = login(srv)
	typ, data = m._simple_command("GETQUOTAROOT", "INBOX")
	assert typ == "OK"
	assert m.untagged_responses.get("QUOTAROOT") == [b"INBOX"], \
	    m.untagged_responses
	m.untagged_responses.clear()
	srv.ctl("account", "set", DEMO, "quota=1K")
	out = srv.ctl("account", "show", DEMO).stdout
	assert "quota\t1024" in out, out
	typ, data = m._simple_command("GETQUOTAROOT", "INBOX")
	assert typ == "OK"
	assert m.untagged_responses["QUOTAROOT"] == [b'INBOX ""']
	assert m.untagged_responses["QUOTA"] == [b'"" (STORAGE 2 1)']
	m.untagged_responses.clear()
	typ, data = m._simple_command("GETQUOTA", '""')
	assert typ == "OK" and m.untagged_responses["QUOTA"] == \
	    [b'"" (STORAGE 2 1)']
	typ, data = m._simple_command("SETQUOTA", '""', "(STORAGE 10)")
	assert typ == "NO"
	# over quota: RCPT 452, APPEND NO [OVERQUOTA]
	code, text = smtp_rcpt(srv, DEMO)
	assert code == 452 and text.startswith(b"4.2.2"), (code, text)
	typ, data = m.append("INBOX", None, None, b"Subject: x\r\n\r\nx\r\n")
	assert typ == "NO" and b"OVERQUOTA" in data[0], data
	# room for a little: SIZE= too big is 552, delivery is deferred
	srv.ctl("account", "set", DEMO, "quota=2K")
	code, text = smtp_rcpt(srv, DEMO, size=1000)
	assert code == 552 and text.startswith(b"5.2.2"), (code, text)
	import smtplib
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		# no SIZE=: RCPT cannot know, delivery finds it does not fit
		s.ehlo("client.example.org")
		assert s.mail("sender@client.example.org")[0] == 250
		assert s.rcpt(DEMO)[0] == 250
		assert s.data(msg("three", body=body))[0] == 250
	assert srv.wait_log(r"event=over-quota"), "no deferral"
	assert srv.queue_list(), "message left the queue"
	assert srv.log_count(r"event=delivered id=.* to=demo") == 2
	# its retries are counted against the quota too (a retry once
	# skipped the check and delivered it)
	assert wait_until(lambda: srv.log_count(r"event=over-quota") >= 3,
	    15), srv.log_tail(20)
	assert srv.log_count(r"event=delivered id=.* to=demo") == 2
	assert srv.queue_list(), "message left the queue"
	# room again: delivered at the next try
	srv.ctl("account", "set", DEMO, "quota=10K")
	srv.ctl("queue", "flush")
	assert wait_until(lambda: srv.log_count(
	    r"event=delivered id=.* to=demo") == 3, 15), srv.log_tail(20)
	assert wait_until(lambda: srv.queue_list() == [], 5)
	m.logout()


# ---- BINARY / STATUS=SIZE --------------------------------------------------

def test_binary_and_status_size(make_server):
	srv = imap_server(make_server)
	deliver(srv, MULTIPART)
	m = login(srv)
	typ, caps = m.capability()
	assert b"BINARY" in caps[0] and b"STATUS=SIZE" in caps[0]
	ok(m.select("INBOX"))
	data = ok(m.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])"))
	hdr, body = data[0]
	assert body == bytes([0, 1, 2, 3, 4, 5]), body
	assert b"~{6}" in hdr, hdr
	assert b"BINARY.SIZE[2] 6" in b"".join(
	    x if isinstance(x, bytes) else x[0] for x in data), data
	data = ok(m.fetch("1", "(BINARY.PEEK[1])"))
	assert data[0][1] == "The numbers are in: grün pineapple.".encode(), \
	    data
	data = ok(m.fetch("1", "(BINARY.PEEK[2]<2.3>)"))
	assert data[0][1] == bytes([2, 3, 4]), data
	data = ok(m.fetch("1", "(FLAGS)"))
	assert b"\\Seen" not in data[0]
	data = ok(m.fetch("1", "(BINARY[2])"))
	data = ok(m.fetch("1", "(FLAGS)"))
	assert b"\\Seen" in data[0]
	size = int(re.search(rb"RFC822.SIZE (\d+)",
	    ok(m.fetch("1", "(RFC822.SIZE)"))[0]).group(1))
	typ, data = m.status("INBOX", "(SIZE MESSAGES)")
	assert typ == "OK" and f"SIZE {size}".encode() in data[0], data
	m.logout()
