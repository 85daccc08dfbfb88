"""The mail archive end to end: mail received over SMTP and mail a local
account sends are archived by the queue runner (in and out, once per
domain however many local recipients), found by moatctl archive search,
exported as mbox, and moatctl archive verify detects a deleted and an
altered copy."""
import mailbox
import os
import shutil
import tempfile
from pathlib import Path

from conftest import (BOB, DEMO, DEMO_PW, OUTSIDE, RawSMTP, login_plain,
    make_message, submission_client, wait_until)


def archived(srv, *args):
	out = srv.ctl("archive", "search", *args).stdout
	return [ln.split("\t") for ln in out.splitlines()]


def test_in_and_out_archived_searched_verified(make_pair):
	a, b = make_pair({"archive": {"domains": "*"}})
	a.add_account("carol@example.test", "carol-password-1")
	# Received: to two local accounts, stored once.
	with RawSMTP(a.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<news@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("RCPT TO:<carol@example.test>", 250)
		c.expect("DATA", 354)
		c.expect(make_message("quarterly figures", body="revenue "
		    "grew\r\n").decode() + ".", 250)
	# Sent: demo to bob at the other site.
	c, _ = submission_client(a, source=OUTSIDE)
	login_plain(c, DEMO, DEMO_PW)
	c.expect(f"MAIL FROM:<{DEMO}>", 250)
	c.expect(f"RCPT TO:<{BOB}>", 250)
	c.expect("DATA", 354)
	c.expect(make_message("lunch friday", rcpt=BOB,
	    sender=DEMO).decode() + ".", 250)
	c.close()
	b.wait_delivered(1, user=BOB)
	hits = wait_until(lambda: len(archived(a)) >= 2 and archived(a), 10)
	assert hits, a.log_text()[-2000:]
	assert len(hits) == 2, hits		# the received one only once
	by_dir = {h[1]: h for h in hits}
	assert "quarterly figures" in by_dir["in"][5], hits
	assert "lunch friday" in by_dir["out"][5] and \
	    by_dir["out"][3] == f"<{DEMO}>", hits
	# Filters.
	assert len(archived(a, "--direction", "out")) == 1
	assert len(archived(a, "--subject", "quarterly")) == 1
	assert len(archived(a, "--text", "revenue")) == 1
	assert archived(a, "--text", "no-such-word") == []
	assert len(archived(a, "--from", "news@client.example.org")) == 1
	# Export.
	# moatctl writes as the service user: a directory it may write in.
	out = Path(tempfile.mkdtemp(dir="/tmp", prefix="moat-mbox-"))
	os.chmod(out, 0o777)
	mb = out / "out.mbox"
	a.ctl("archive", "export", "--mbox", str(mb))
	subjects = sorted(m["Subject"] for m in mailbox.mbox(str(mb)))
	shutil.rmtree(out)
	assert subjects == ["lunch friday", "quarterly figures"], subjects
	# Verify: intact, then a deleted and an altered copy.
	assert a.ctl("archive", "verify").stdout.startswith("ok 2 messages")
	files = sorted(p for p in Path(a.data_dir, "archive").rglob("*")
	    if p.is_file() and p.name not in ("index", "expired") and
	    not p.name.startswith("."))
	assert len(files) == 2, files
	files[0].unlink()
	data = files[1].read_bytes()
	files[1].write_bytes(data.replace(b"lunch", b"LUNCH").replace(
	    b"revenue", b"REVENUE"))
	r = a.ctl("archive", "verify", check=False)
	assert r.returncode == 1, r.stdout
	assert "missing" in r.stdout and ("altered" in r.stdout or
	    "hash" in r.stdout), r.stdout


def test_archive_off_by_default(moat_server):
	srv = moat_server
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect("MAIL FROM:<a@client.example.org>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		c.expect(make_message("not archived").decode() + ".", 250)
	srv.wait_delivered(1)
	assert not Path(srv.data_dir, "archive").exists() or \
	    archived(srv) == []
