"""The quarantine, end to end with a real clamd (clamd_harness.py).

With [antivirus] action_inbound = quarantine, EICAR from an outside client
gets 250, is marked X-Virus-Scan: infected, and the queue runner moves it
into <data_dir>/quarantine instead of delivering it (no bounce). moatctl
quarantine list/show/release/delete work on it; a released message
continues delivery. A queue file whose envelope carries a "quarantine"
line (what every filter stage writes) is held the same way, and the
runner's prune removes held messages past [quarantine] retention. Also:
clamd stopping while the server runs (after a first clean scan) gives the
configured behaviour, 451 or fail_open."""
import os
import pwd
import subprocess
import time

import pytest

from clamd_harness import (EICAR, EICAR_NAME,  # noqa: F401 (a fixture)
    clamd, with_attachment)
from conftest import (DEMO, MOATD, OUTSIDE, RawSMTP, make_message,
    wait_until)

SENDER = "sender@client.example.org"


def send(srv, msg, source=OUTSIDE):
	"""(code, first reply line) of the end of DATA."""
	with RawSMTP(srv.smtp_port, source=source) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		code, lines = c.cmd(msg.decode() + ".")
		return code, lines[0]


def held(srv):
	"""moatctl quarantine list, as lists of tab-separated fields."""
	out = srv.ctl("quarantine", "list").stdout
	return [ln.split("\t") for ln in out.splitlines() if ln.strip()]


def qdir(srv):
	return srv.data_dir / "quarantine"


def av_server(make_server, clamd, **antivirus):
	return make_server({"antivirus": {"clamd": clamd.address,
	    "action_inbound": "quarantine", **antivirus}})


def test_virus_quarantined_shown_released_delivered(make_server, clamd):
	srv = av_server(make_server, clamd)
	code, line = send(srv, with_attachment("eicar held", EICAR,
	    "eicar.txt"))
	assert code == 250, line
	m = srv.wait_log(r"event=quarantined id=([0-9a-f]{24}) "
	    r'reason="virus ' + EICAR_NAME.replace(".", r"\.") + '"')
	assert m, srv.log_tail()
	qid = m.group(1)
	assert (qdir(srv) / qid).is_file()
	# Not delivered, not left in the queue, no bounce to the sender.
	time.sleep(0.5)
	assert srv.maildir_files(DEMO) == []
	assert srv.queue_list() == []
	assert srv.log_count(r"event=dsn ") == 0
	assert srv.log_count(r"event=delivered ") == 0

	rows = held(srv)
	assert len(rows) == 1, rows
	assert rows[0][0] == qid
	assert rows[0][2] == f"<{SENDER}>" and rows[0][3] == f"<{DEMO}>"
	assert int(rows[0][4]) > len(EICAR)
	assert rows[0][5] == f"virus {EICAR_NAME}"

	show = srv.ctl("quarantine", "show", qid).stdout
	assert f"reason\tvirus {EICAR_NAME}\n" in show, show
	assert "Subject: eicar held\n" in show
	assert f"X-Virus-Scan: infected ({EICAR_NAME})" in show
	assert "see attached" not in show	# headers only
	full = srv.ctl("quarantine", "show", "--full", qid).stdout
	assert "see attached" in full and "Subject: eicar held" in full

	r = srv.ctl("quarantine", "release", qid)
	assert r.stdout == f"released {qid}\n"
	got = srv.wait_delivered(1)
	assert len(got) == 1 and b"Subject: eicar held" in got[0]
	assert f"X-Virus-Scan: infected ({EICAR_NAME})".encode() in got[0]
	assert held(srv) == []
	assert not (qdir(srv) / qid).exists()
	assert wait_until(lambda: srv.queue_list() == [], 5)
	# Delivered once, and not held a second time.
	assert srv.log_count(r"event=quarantined ") == 1
	assert srv.log_count(rf"event=delivered id={qid} ") == 1


def test_action_is_per_direction(make_server, clamd):
	"""action_outbound stays reject: from a trusted (relay) client the
	same virus is refused."""
	srv = av_server(make_server, clamd)
	code, line = send(srv, with_attachment("eicar out", EICAR, "e.txt"),
	    source="127.0.0.1")
	assert code == 554 and EICAR_NAME.encode() in line, line
	assert held(srv) == []


def test_delete_and_bad_arguments(make_server, clamd):
	srv = av_server(make_server, clamd)
	for i in range(2):
		code, line = send(srv, with_attachment(f"eicar {i}", EICAR,
		    "eicar.txt"))
		assert code == 250, line
	assert wait_until(lambda: srv.log_count(r"event=quarantined ") == 2,
	    10), srv.log_tail()
	rows = held(srv)
	assert len(rows) == 2
	# Newest first, and --limit.
	assert rows[0][0] > rows[1][0]
	one = srv.ctl("quarantine", "list", "--limit", "1").stdout.splitlines()
	assert len(one) == 1 and one[0].split("\t")[0] == rows[0][0]

	r = srv.ctl("quarantine", "delete", rows[1][0])
	assert r.stdout == f"deleted {rows[1][0]}\n"
	assert [x[0] for x in held(srv)] == [rows[0][0]]
	r = srv.ctl("quarantine", "delete", rows[1][0], check=False)
	assert r.returncode == 1 and "no such message" in r.stderr
	for cmd in ("show", "release", "delete"):
		r = srv.ctl("quarantine", cmd, "../../etc/passwd", check=False)
		assert r.returncode == 1 and "not a queue id" in r.stderr, r
	r = srv.ctl("quarantine", "release", "0" * 24, check=False)
	assert r.returncode == 1 and "no such message" in r.stderr
	r = srv.ctl("quarantine", "list", "--limit", "x", check=False)
	assert r.returncode == 2
	r = srv.ctl("quarantine", "frobnicate", check=False)
	assert r.returncode == 2 and "usage" in r.stderr
	# Nothing delivered along the way.
	assert srv.maildir_files(DEMO) == []


def test_bad_action_is_a_config_error(make_server):
	srv = make_server({"antivirus": {"action_inbound": "hold"}},
	    provision=False, start=False)
	r = subprocess.run([str(MOATD), "-c", str(srv.conf), "--check"],
	    capture_output=True, text=True, timeout=20)
	assert r.returncode != 0 and "action_inbound" in r.stderr, r.stderr


# ---- the path the other filter stages use: an envelope line -------------

_counter = [0]


def new_id():
	_counter[0] += 1
	t = time.time()
	return (f"{int(t) & 0xffffffffff:010x}{int(t * 1e6) % 1000000:05x}"
	    f"{os.getpid() & 0xfffff:05x}{_counter[0] & 0xffff:04x}")


def queue_by_hand(srv, moat_user, reason, subject):
	"""A queue file as a worker writes it (tmp, then rename into msg),
	with a quarantine line in its envelope."""
	qid = new_id()
	env = (f"MOATQ1\nid {qid}\ntime {int(time.time())}\nfrom {SENDER}\n"
	    f"ip {OUTSIDE}\nhelo client.example.org\nservice smtp\n"
	    f"session 0000000000000001\nquarantine {reason}\nsmtputf8 0\n"
	    f"8bit 0\njunk 0\nrcpt {DEMO}\n\n").encode()
	tmp = srv.data_dir / "queue" / "tmp" / qid
	tmp.write_bytes(env + make_message(subject))
	pw = pwd.getpwnam(moat_user)
	os.chown(tmp, pw.pw_uid, pw.pw_gid)
	os.chmod(tmp, 0o600)
	os.rename(tmp, srv.data_dir / "queue" / "msg" / qid)
	return qid


def test_envelope_line_held_then_expired(make_server, moat_user):
	srv = make_server({"quarantine": {"retention": "1d"}})
	old = queue_by_hand(srv, moat_user, "rule held-by-test", "by hand 1")
	assert srv.wait_log(rf'event=quarantined id={old} '
	    r'reason="rule held-by-test"'), srv.log_tail()
	new = queue_by_hand(srv, moat_user, "attachment exe", "by hand 2")
	assert srv.wait_log(rf'event=quarantined id={new} '
	    r'reason="attachment exe"'), srv.log_tail()
	rows = held(srv)
	assert [(x[0], x[5]) for x in rows] == [(new, "attachment exe"),
	    (old, "rule held-by-test")]
	assert srv.maildir_files(DEMO) == [] and srv.queue_list() == []

	# Held two days ago: past the one-day retention. The runner prunes
	# at start and then hourly.
	srv.stop()
	past = time.time() - 2 * 86400
	os.utime(qdir(srv) / old, (past, past))
	srv.start()
	assert srv.wait_log(rf"event=quarantine-expired id={old} "), \
	    srv.log_tail()
	assert [x[0] for x in held(srv)] == [new]
	assert srv.log_count(r"event=quarantine-expired ") == 1
	assert not (qdir(srv) / old).exists()
	assert srv.maildir_files(DEMO) == []


# ---- clamd going away while the server runs -------------------------------

@pytest.mark.parametrize("fail_open", ["no", "yes"])
def test_clamd_stopped_mid_test(make_server, clamd, fail_open):
	srv = make_server({"antivirus": {"clamd": clamd.address,
	    "timeout": "3s", "fail_open": fail_open}})
	code, line = send(srv, make_message("scanned first"))
	assert code == 250, line
	got = srv.wait_delivered(1, settle=0)
	assert b"X-Virus-Scan: clean (clamd)" in got[0]
	clamd.stop()
	code, line = send(srv, make_message("after clamd stopped"))
	if fail_open == "no":
		assert code == 451 and line.startswith(b"451 4.7.0 "), line
		time.sleep(0.5)
		assert len(srv.maildir_files(DEMO)) == 1
	else:
		assert code == 250, line
		got = srv.wait_delivered(2)
		late = [g for g in got if b"after clamd stopped" in g]
		assert len(late) == 1
		assert b"X-Virus-Scan: not scanned (" in late[0]
	assert srv.wait_log(r"event=virus-scan-failed .*fail_open="
	    + fail_open, timeout=5)
