"""moatctl av against a real clamd (tests/integ/clamd_harness.py): EICAR,
a custom pattern signature and a hash signature are FOUND, a clean file is
OK, several files get one line each, a clamd that is gone is an ERROR with
a non-zero exit, and ping answers PONG. The clamd address comes from
MOAT_CLAMD, or from [antivirus] clamd in the config."""
import base64
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

import clamd_harness as ch
from conftest import MOATCTL

pytestmark = pytest.mark.skipif(not ch.available(),
    reason=f"{ch.CLAMD} missing (apt-get install clamav-daemon)")


@pytest.fixture(scope="module")
def clamd():
	h = ch.ClamdHarness()
	try:
		h.start()
		print(f"clamd started in {h.startup_seconds:.3f} s")
		yield h
	finally:
		h.cleanup()


@pytest.fixture
def samples():
	"""The sample files, in a 0755 dir and 0644 files: moatctl run as
	root drops to the 'moat' user before it reads them."""
	base = Path(tempfile.mkdtemp(prefix="moat-av-samples."))
	os.chmod(base, 0o755)
	files = {}
	for name, data in (("eicar.com", ch.EICAR),
	    ("custom.txt", ch.CUSTOM_SAMPLE), ("hash.bin", ch.HASH_SAMPLE),
	    ("clean.txt", ch.CLEAN_SAMPLE)):
		p = base / name
		p.write_bytes(data)
		os.chmod(p, 0o644)
		files[name] = p
	yield files
	for p in files.values():
		p.unlink()
	base.rmdir()


@pytest.fixture
def av_server(make_server):
	"""A config (and data dir) for moatctl; moatd itself is not needed."""
	return make_server(start=False)


def av(srv, address, *args):
	env = dict(os.environ)
	if address is None:
		env.pop("MOAT_CLAMD", None)
	else:
		env["MOAT_CLAMD"] = address
	return subprocess.run([str(MOATCTL), "-c", str(srv.conf), "av", *args],
	    capture_output=True, text=True, timeout=60, env=env)


def test_eicar_found(clamd, samples, av_server):
	r = av(av_server, clamd.address, "scan", str(samples["eicar.com"]))
	assert r.stdout == f"{samples['eicar.com']}: {ch.EICAR_NAME} FOUND\n"
	assert r.returncode == 1


def test_custom_signatures_found(clamd, samples, av_server):
	r = av(av_server, clamd.address, "scan", str(samples["custom.txt"]),
	    str(samples["hash.bin"]))
	assert r.stdout.splitlines() == [
	    f"{samples['custom.txt']}: {ch.CUSTOM_NAME} FOUND",
	    f"{samples['hash.bin']}: {ch.HASH_NAME} FOUND"]
	assert r.returncode == 1


def test_clean_ok(clamd, samples, av_server):
	r = av(av_server, clamd.address, "scan", str(samples["clean.txt"]))
	assert r.stdout == f"{samples['clean.txt']}: OK\n", r.stderr
	assert r.returncode == 0


def test_mixed_files_and_missing(clamd, samples, av_server):
	missing = samples["clean.txt"].parent / "missing"
	r = av(av_server, clamd.address, "scan", str(samples["clean.txt"]),
	    str(missing), str(samples["eicar.com"]))
	lines = r.stdout.splitlines()
	assert lines[0] == f"{samples['clean.txt']}: OK"
	assert lines[1].startswith(f"{missing}: ERROR ")
	assert lines[2] == f"{samples['eicar.com']}: {ch.EICAR_NAME} FOUND"
	assert r.returncode == 1	# infected wins over error


def test_eicar_in_a_mail_message(clamd, samples, av_server):
	"""What moatd sends: a whole message with EICAR as an attachment."""
	msg = (b"From: a@example.test\r\nTo: b@example.test\r\n"
	    b"Subject: av\r\nMIME-Version: 1.0\r\n"
	    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
	    b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
	    b"--XX\r\nContent-Type: application/octet-stream\r\n"
	    b"Content-Transfer-Encoding: base64\r\n"
	    b"Content-Disposition: attachment; filename=eicar.com\r\n\r\n" +
	    base64.encodebytes(ch.EICAR).replace(b"\n", b"\r\n") +
	    b"--XX--\r\n")
	p = samples["clean.txt"].parent / "mail.eml"
	p.write_bytes(msg)
	os.chmod(p, 0o644)
	try:
		r = av(av_server, clamd.address, "scan", str(p))
	finally:
		p.unlink()
	assert r.stdout == f"{p}: {ch.EICAR_NAME} FOUND\n"


def test_ping(clamd, av_server):
	r = av(av_server, clamd.address, "ping")
	assert r.stdout == f"{clamd.address}: PONG\n"
	assert r.returncode == 0


def test_address_from_config(clamd, samples, make_server):
	srv = make_server({"antivirus": {"clamd": clamd.address}},
	    start=False)
	r = av(srv, None, "scan", str(samples["eicar.com"]))
	assert r.stdout == f"{samples['eicar.com']}: {ch.EICAR_NAME} FOUND\n"


def test_clamd_stopped(samples, av_server):
	h = ch.ClamdHarness()
	try:
		h.start()
		h.stop()
		r = av(av_server, h.address, "scan", str(samples["clean.txt"]))
		assert r.stdout.startswith(f"{samples['clean.txt']}: ERROR ")
		assert "connect" in r.stdout
		assert r.returncode == 2
		r = av(av_server, h.address, "ping")
		assert "ERROR" in r.stdout and r.returncode == 2
	finally:
		h.cleanup()


def test_bad_address(samples, av_server):
	r = av(av_server, "tcp:localhost:3310", "scan",
	    str(samples["clean.txt"]))
	assert r.stdout.startswith(f"{samples['clean.txt']}: ERROR ")
	assert r.returncode == 2
