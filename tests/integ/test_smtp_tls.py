"""TLS: STARTTLS on smtp and submission, implicit TLS on submissions, the
self-signed certificate made on first start, a configured certificate, and
real clients (smtplib, swaks, openssl s_client)."""
import os
import re
import smtplib
import ssl
import stat
import subprocess

from conftest import (DEMO, RawSMTP, check_delivered, make_message,
    tls_client_context)

SENDER = "tls@client.example.org"


def ehlo_exts(s):
	code, _ = s.ehlo()
	assert code == 250
	return {k.upper() for k in s.esmtp_features}


def test_starttls_on_smtp_port_and_delivery_records_tls(moat_server):
	msg = make_message("over starttls")
	with smtplib.SMTP("127.0.0.1", moat_server.smtp_port,
	    local_hostname="client.example.org", timeout=10) as s:
		assert "STARTTLS" in ehlo_exts(s)
		code, resp = s.starttls(context=tls_client_context())
		assert code == 220, resp
		assert s.sock.version() in ("TLSv1.2", "TLSv1.3"), s.sock.version()
		exts = ehlo_exts(s)
		assert "STARTTLS" not in exts, "STARTTLS offered again after TLS"
		for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
		    "SMTPUTF8", "CHUNKING"):
			assert ext in exts, f"{ext} missing after STARTTLS"
		assert s.sendmail(SENDER, [DEMO], msg) == {}
	(data,) = moat_server.wait_delivered(1)
	check_delivered(data, msg, sender=SENDER, tls=True)


def test_second_starttls_is_refused(moat_server):
	with smtplib.SMTP("127.0.0.1", moat_server.smtp_port, timeout=10) as s:
		s.ehlo()
		s.starttls(context=tls_client_context())
		s.ehlo()
		code, resp = s.docmd("STARTTLS")
		assert code == 503, (code, resp)


def test_starttls_resets_session_state(moat_server):
	"""RFC 3207: after STARTTLS the client must EHLO again and any
	transaction state is gone."""
	with smtplib.SMTP("127.0.0.1", moat_server.smtp_port, timeout=10) as s:
		s.ehlo()
		s.starttls(context=tls_client_context())
		code, resp = s.docmd("MAIL", f"FROM:<{SENDER}>")
		assert code == 503, f"MAIL without EHLO after STARTTLS: {resp!r}"


def test_submission_port_offers_starttls(moat_server):
	with smtplib.SMTP("127.0.0.1", moat_server.submission_port,
	    timeout=10) as s:
		assert "STARTTLS" in ehlo_exts(s)
		code, _ = s.starttls(context=tls_client_context())
		assert code == 220
		assert "STARTTLS" not in ehlo_exts(s)


def test_implicit_tls_on_submissions_port(moat_server):
	with smtplib.SMTP_SSL("127.0.0.1", moat_server.submissions_port,
	    context=tls_client_context(), timeout=10) as s:
		assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
		exts = ehlo_exts(s)
		assert "STARTTLS" not in exts, \
		    "STARTTLS offered on the implicit-TLS port"
		assert "ENHANCEDSTATUSCODES" in exts
		code, _ = s.docmd("STARTTLS")
		assert code != 220


def test_plaintext_on_implicit_tls_port_gets_no_greeting(moat_server):
	with RawSMTP(moat_server.submissions_port, timeout=3) as c:
		c.send(b"EHLO plain.example\r\n")
		# The server expects a ClientHello: no SMTP 220/250 may come back.
		try:
			data = c.sock.recv(1024)
		except (OSError, TimeoutError):
			data = b""
		assert not data.startswith(b"2"), data


def test_self_signed_cert_created_and_served(moat_server):
	tls_dir = moat_server.data_dir / "tls"
	assert tls_dir.is_dir(), f"{tls_dir} not created"
	files = sorted(p for p in tls_dir.iterdir() if p.is_file())
	assert files, "no files in data_dir/tls"
	pems = {p: p.read_bytes() for p in files}
	certs = [p for p, b in pems.items() if b"BEGIN CERTIFICATE" in b]
	keys = [p for p, b in pems.items() if b"PRIVATE KEY" in b]
	assert certs and keys, f"cert/key not found among {files}"
	for k in keys:
		mode = stat.S_IMODE(k.stat().st_mode)
		assert mode & 0o077 == 0, f"{k} is group/world readable: {oct(mode)}"
	served = ssl.DER_cert_to_PEM_cert(_served_cert(moat_server))
	want = ssl.PEM_cert_to_DER_cert(served)
	on_disk = [ssl.PEM_cert_to_DER_cert(
	    re.search(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
	    pems[c], re.S).group(0).decode()) for c in certs]
	assert want in on_disk, "served certificate is not the one in data_dir/tls"


def _served_cert(srv):
	with smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port,
	    context=tls_client_context(), timeout=10) as s:
		return s.sock.getpeercert(binary_form=True)


def test_self_signed_cert_kept_across_restarts(moat_server):
	first = _served_cert(moat_server)
	assert moat_server.stop() is not None
	moat_server.start()
	assert _served_cert(moat_server) == first


def test_configured_certificate_is_used(make_server):
	srv = make_server(start=False)
	cert = srv.base / "cert.pem"
	key = srv.base / "key.pem"
	r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
	    "-keyout", str(key), "-out", str(cert), "-days", "2",
	    "-subj", "/CN=configured.example.test"],
	    capture_output=True, text=True, timeout=60)
	assert r.returncode == 0, r.stderr
	os.chmod(key, 0o600)
	srv.config["tls"] = {"cert": str(cert), "key": str(key)}
	srv.write_config()
	srv.start()
	der = _served_cert(srv)
	assert der == ssl.PEM_cert_to_DER_cert(cert.read_text())
	# And over STARTTLS on port 25.
	with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10) as s:
		s.ehlo()
		s.starttls(context=tls_client_context())
		assert s.sock.getpeercert(binary_form=True) == der


def test_smtp_ssl_delivery_on_submissions(moat_server):
	"""Implicit TLS session, delivery to a local account (no relaying)."""
	msg = make_message("over implicit tls")
	with smtplib.SMTP_SSL("127.0.0.1", moat_server.submissions_port,
	    context=tls_client_context(), timeout=10) as s:
		s.ehlo()
		try:
			refused = s.sendmail(SENDER, [DEMO], msg)
		except smtplib.SMTPRecipientsRefused as e:
			# Submission may demand AUTH (not in this issue): then it must
			# say so with 530 5.7.0, not accept silently or crash.
			(code, text), = e.recipients.values()
			assert code == 530, e.recipients
			return
		except smtplib.SMTPSenderRefused as e:
			assert e.smtp_code == 530, e
			return
		assert refused == {}
	(data,) = moat_server.wait_delivered(1)
	check_delivered(data, msg, sender=SENDER, tls=True)


def test_swaks_starttls_delivery(moat_server):
	r = subprocess.run(["swaks", "--server",
	    f"127.0.0.1:{moat_server.smtp_port}", "--to", DEMO,
	    "--from", SENDER, "--helo", "swaks.example.org", "--tls",
	    "--header", "Subject: swaks-tls-test", "--body", "hello from swaks",
	    "--timeout", "15"],
	    capture_output=True, text=True, timeout=60)
	assert r.returncode == 0, r.stdout + r.stderr
	assert "TLS started" in r.stdout, r.stdout
	(data,) = moat_server.wait_delivered(1)
	assert b"Subject: swaks-tls-test" in data
	assert b"hello from swaks" in data
	text = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
	assert re.search(r"using TLSv1\.[23] with cipher \S+", text), text


def test_swaks_plain_and_pipelining(moat_server):
	r = subprocess.run(["swaks", "--server",
	    f"127.0.0.1:{moat_server.smtp_port}", "--to", DEMO,
	    "--from", SENDER, "--pipeline", "--header", "Subject: swaks-pipe",
	    "--timeout", "15"], capture_output=True, text=True, timeout=60)
	assert r.returncode == 0, r.stdout + r.stderr
	(data,) = moat_server.wait_delivered(1)
	assert b"Subject: swaks-pipe" in data


def test_swaks_implicit_tls(moat_server):
	r = subprocess.run(["swaks", "--server",
	    f"127.0.0.1:{moat_server.submissions_port}", "--to", DEMO,
	    "--from", SENDER, "--tls-on-connect", "--quit-after", "EHLO",
	    "--timeout", "15"], capture_output=True, text=True, timeout=60)
	assert r.returncode == 0, r.stdout + r.stderr
	assert "STARTTLS" not in r.stdout.split("EHLO", 1)[-1]


def test_openssl_s_client_starttls(moat_server):
	r = subprocess.run(["openssl", "s_client", "-connect",
	    f"127.0.0.1:{moat_server.smtp_port}", "-starttls", "smtp",
	    "-servername", "mx.example.test", "-ign_eof"],
	    input="EHLO s-client.example\r\nQUIT\r\n", capture_output=True,
	    text=True, timeout=30)
	out = r.stdout
	assert re.search(r"Protocol\s*:\s*TLSv1\.[23]", out) or \
	    re.search(r"New, TLSv1\.[23], Cipher is", out), out[-2000:]
	assert "221" in out, out[-2000:]


def test_old_tls_versions_refused(moat_server):
	import warnings
	ctx = tls_client_context()
	with warnings.catch_warnings():
		warnings.simplefilter("ignore", DeprecationWarning)
		ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
		ctx.maximum_version = ssl.TLSVersion.TLSv1_1
	try:
		ctx.set_ciphers("ALL:@SECLEVEL=0")
	except ssl.SSLError:
		pass
	import socket
	with socket.create_connection(("127.0.0.1",
	    moat_server.submissions_port), timeout=5) as raw:
		try:
			with ctx.wrap_socket(raw) as t:
				version = t.version()
		except (ssl.SSLError, OSError):
			version = None
	assert version is None, f"server accepted {version}"
