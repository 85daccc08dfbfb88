"""Durability and process model: kill -9 of everything mid-stream loses no
acknowledged message and duplicates none; a killed worker is restarted;
SIGTERM drains and exits in time; SIGHUP keeps serving."""
import os
import random
import re
import signal
import smtplib
import threading
import time

from conftest import (DEMO, Closed, RawSMTP, children_of, make_message,
    pid_alive, socket_inodes_of, tcp_inode, wait_until)

SENDER = "load@client.example.org"
SEQ_RE = re.compile(rb"(?m)^X-Test-Seq: (\d+)\r?$")


def delivered_seqs(srv):
	"""seq -> number of delivered copies (new/ and cur/)."""
	counts = {}
	for sub in ("new", "cur"):
		for f in srv.maildir_files(sub=sub):
			try:
				data = f.read_bytes()
			except FileNotFoundError:	# moved new -> cur meanwhile
				continue
			m = SEQ_RE.search(data)
			assert m, f"delivered file without X-Test-Seq: {f}"
			seq = int(m.group(1))
			counts[seq] = counts.get(seq, 0) + 1
	return counts


def seq_message(seq, run):
	return make_message(f"durability {seq}",
	    f"message {seq} of run {run}\r\n" + "filler line\r\n" * 20,
	    extra_headers=[f"X-Test-Seq: {seq}",
	    f"X-Test-Run: {run}"])


def test_kill_9_everything_loses_no_acknowledged_message(moat_server):
	srv = moat_server
	n_msgs, n_threads = 200, 10
	run = random.randrange(1 << 30)
	rng = random.Random(run)
	kill_after = rng.randrange(30, 150)	# acks before the power cut
	acked, failed = set(), []
	lock = threading.Lock()
	killed = threading.Event()
	next_seq = iter(range(n_msgs))
	# Known up front so that the power cut is one burst of kill(2) calls,
	# fired by the sender thread that records the kill_after-th ack.
	victims = sorted(srv.our_pids() - {srv.pid})
	assert victims, "no child processes found"

	def power_cut():
		os.kill(srv.pid, signal.SIGKILL)
		for p in victims:
			try:
				os.kill(p, signal.SIGKILL)
			except ProcessLookupError:
				pass
		killed.set()

	def sender():
		for _ in range(n_msgs):
			with lock:
				seq = next(next_seq, None)
			if seq is None or killed.is_set():
				return
			try:
				with smtplib.SMTP("127.0.0.1", srv.smtp_port,
				    timeout=10) as s:
					refused = s.sendmail(SENDER, [DEMO],
					    seq_message(seq, run))
				if refused == {}:
					with lock:
						acked.add(seq)
						if len(acked) == kill_after:
							power_cut()
			except (smtplib.SMTPException, OSError) as e:
				with lock:
					failed.append((seq, repr(e)))
				if killed.is_set():
					return

	threads = [threading.Thread(target=sender, daemon=True)
	    for _ in range(n_threads)]
	for t in threads:
		t.start()
	for t in threads:
		t.join(60)
	assert not any(t.is_alive() for t in threads), "sender threads hung"
	assert killed.is_set(), \
	    f"only {len(acked)} acks, kill point {kill_after}; {failed[:5]}"
	srv.kill_all()		# reap the master, sweep any stragglers
	# A child inside fsync(2) is in uninterruptible sleep: SIGKILL takes
	# effect when the call returns, so give the kernel a moment.
	wait_until(lambda: not [p for p in victims if pid_alive(p)], 5,
	    interval=0.05)
	assert not [p for p in victims if pid_alive(p)], "survivors after kill -9"
	with lock:
		acked_at_kill = set(acked)
	early = [f for f in failed if f[0] not in acked_at_kill]
	assert len(acked_at_kill) >= kill_after
	assert len(acked_at_kill) < n_msgs, "the kill did not land mid-stream"
	srv.start()
	# Wait for the queue to drain: every acknowledged message delivered.
	wait_until(lambda: acked_at_kill <= set(delivered_seqs(srv)), 30,
	    interval=0.2)
	# Give retries a chance to produce duplicates, if they would.
	time.sleep(3)
	counts = delivered_seqs(srv)
	print(f"run {run}: kill after {kill_after} acks: acked {len(acked_at_kill)}, "
	    f"delivered {len(counts)}, send failures {len(early)}")
	missing = sorted(acked_at_kill - set(counts))
	dups = sorted(s for s, n in counts.items() if n > 1)
	assert not missing, (f"run {run}: {len(missing)} acknowledged "
	    f"message(s) lost: "
	    f"{missing[:20]} (acked {len(acked_at_kill)}, delivered "
	    f"{len(counts)})")
	assert not dups, f"duplicated deliveries: {[(s, counts[s]) for s in dups]}"
	unknown = set(counts) - set(range(n_msgs))
	assert not unknown, unknown
	# Queue list still works and the daemon still accepts mail.
	srv.ctl("queue", "list")
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		assert s.sendmail(SENDER, [DEMO], seq_message(n_msgs, run)) == {}
	wait_until(lambda: n_msgs in delivered_seqs(srv), 10)
	assert delivered_seqs(srv).get(n_msgs) == 1


def _worker_serving(srv, client_sock):
	"""pid of the child process holding the server side of client_sock."""
	cport = client_sock.getsockname()[1]
	inode = tcp_inode(srv.smtp_port, cport)
	assert inode, "server-side socket not found in /proc/net/tcp"
	for p in children_of(srv.pid):
		if inode in socket_inodes_of(p):
			return p
	return None


def test_killed_worker_is_restarted(moat_server):
	srv = moat_server
	kids_before = set(srv.children())
	assert len(kids_before) >= 3, \
	    f"expected 2 workers + queue runner, children: {kids_before}"
	c = RawSMTP(srv.smtp_port)
	c.greeting()
	worker = wait_until(lambda: _worker_serving(srv, c.sock), 5)
	assert worker, "no child holds our connection"
	assert worker != srv.pid
	os.kill(worker, signal.SIGKILL)
	# The session dies with its worker.
	assert c.expect_eof(5)
	c.close()
	wait_until(lambda: not pid_alive(worker), 5)
	replaced = wait_until(lambda: len(set(srv.children())) ==
	    len(kids_before) and worker not in srv.children(), 10,
	    interval=0.1)
	assert replaced, (f"worker {worker} not replaced: before "
	    f"{sorted(kids_before)}, now {sorted(srv.children())}")
	assert srv.running(), "master died"
	# Several sessions (spread over the workers) all work.
	msgs = []
	for i in range(6):
		m = make_message(f"after worker kill {i}")
		msgs.append(m)
		with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
			assert s.sendmail(SENDER, [DEMO], m) == {}
	got = srv.wait_delivered(6)
	assert len(got) == 6


def test_killed_queue_runner_is_restarted_and_delivers(moat_server):
	srv = moat_server
	# Find the queue runner: the child without our listening port.
	c = RawSMTP(srv.smtp_port)
	c.greeting()
	worker = wait_until(lambda: _worker_serving(srv, c.sock), 5)
	c.close()
	kids = set(srv.children())
	before = len(kids)
	for victim in sorted(kids - {worker}):
		os.kill(victim, signal.SIGKILL)
	wait_until(lambda: len(srv.children()) == before and
	    not (set(srv.children()) & (kids - {worker})), 10, interval=0.1)
	assert len(srv.children()) == before, \
	    f"children not restarted: {srv.children()}"
	m = make_message("after runner kill")
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		assert s.sendmail(SENDER, [DEMO], m) == {}
	(data,) = srv.wait_delivered(1)
	assert data.endswith(m)


def test_sigterm_drains_and_exits_in_time(moat_server):
	srv = moat_server
	drain = int(srv.config["server"]["drain_timeout"])
	pids = srv.our_pids()
	# An idle session open across the shutdown.
	c = RawSMTP(srv.smtp_port, timeout=drain + 10)
	c.greeting()
	c.ehlo()
	t0 = time.monotonic()
	os.kill(srv.pid, signal.SIGTERM)
	try:
		rc = srv.proc.wait(timeout=drain + 5)
	except Exception:
		rc = None
	elapsed = time.monotonic() - t0
	assert rc is not None, f"moatd still running {drain + 5}s after SIGTERM"
	assert rc == 0, f"exit status {rc} after SIGTERM"
	assert wait_until(lambda: not [p for p in pids if pid_alive(p)], 3), \
	    "children survived the master"
	# The open session got a 421 or a close, not silence forever.
	assert c.expect_eof(2) or c.buf.startswith(b"421"), c.buf
	c.close()
	assert elapsed <= drain + 5


def test_sigterm_lets_a_transaction_finish(moat_server):
	"""A message already in DATA when SIGTERM arrives may complete within
	drain_timeout; if it gets 250 it must be delivered (after restart)."""
	srv = moat_server
	msg = make_message("in flight at sigterm")
	c = RawSMTP(srv.smtp_port)
	c.greeting()
	c.ehlo()
	c.expect(f"MAIL FROM:<{SENDER}>", 250)
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.expect("DATA", 354)
	c.send(msg[:50])
	os.kill(srv.pid, signal.SIGTERM)
	time.sleep(0.3)
	try:
		c.send(msg[50:] + b".\r\n")
		code, lines = c.reply()
	except (Closed, OSError) as e:
		code, lines = None, [repr(e)]
	c.close()
	srv.proc.wait(timeout=int(srv.config["server"]["drain_timeout"]) + 5)
	assert code in (250, 421, 451, None), lines
	if code == 250:
		srv.start()
		got = srv.wait_delivered(1)
		assert len(got) == 1 and got[0].endswith(msg)


def test_sighup_keeps_serving(moat_server):
	srv = moat_server
	msg = make_message("across sighup")
	c = RawSMTP(srv.smtp_port)
	c.greeting()
	c.ehlo()
	c.expect(f"MAIL FROM:<{SENDER}>", 250)
	os.kill(srv.pid, signal.SIGHUP)
	time.sleep(1.5)
	assert srv.running(), "master exited on SIGHUP"
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.expect("DATA", 354)
	c.send(msg + b".\r\n")
	code, lines = c.reply()
	assert code == 250, lines
	c.expect("QUIT", 221)
	c.close()
	m2 = make_message("new session after sighup")
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		assert s.sendmail(SENDER, [DEMO], m2) == {}
	got = srv.wait_delivered(2)
	assert sum(g.endswith(msg) for g in got) == 1
	assert sum(g.endswith(m2) for g in got) == 1


def test_sighup_reloads_limits(moat_server):
	"""SIGHUP = reload: a changed limit applies to new sessions."""
	srv = moat_server
	srv.config["limits"]["recipients"] = "2"
	srv.write_config()
	os.kill(srv.pid, signal.SIGHUP)
	time.sleep(1.5)
	assert srv.running()

	def rcpt_codes():
		with RawSMTP(srv.smtp_port) as c:
			c.greeting()
			c.ehlo()
			c.expect(f"MAIL FROM:<{SENDER}>", 250)
			return [c.cmd(f"RCPT TO:<r{i}@catchall.test>")[0]
			    for i in range(3)]
	codes = wait_until(lambda: rcpt_codes() == [250, 250, 452] and
	    [250, 250, 452], 5, interval=0.5)
	assert codes == [250, 250, 452], rcpt_codes()
