"""SMTP AUTH (RFC 4954) on the submission ports: where and when it is
offered, the PLAIN, LOGIN and SCRAM-SHA-256[-PLUS] exchanges (with an
independent SCRAM client below), failures and their growing delay, account
settings (smtp=off, relay=off), the submission requirement to authenticate
and the ownership of envelope and header senders."""
import base64
import hashlib
import hmac
import os
import smtplib
import ssl
import time

import pytest

from conftest import (DEMO, DEMO_PW, ENH_RE, OUTSIDE, RawSMTP, check_delivered,
    login_plain, make_message, plain_response, submission_client,
    tls_client_context)

CAROL = "carol@example.test"
CAROL_PW = "carol-password-1"
WRONG_PW = "not-the-password"


def b64(data):
	if isinstance(data, str):
		data = data.encode()
	return base64.b64encode(data).decode()


def unb64(line):
	return base64.b64decode(line, validate=True)


def auth_keywords(exts):
	"""The mechanisms of the AUTH line of an EHLO reply, or None."""
	for e in exts:
		if e.upper().startswith("AUTH ") or e.upper() == "AUTH":
			return e.split()[1:]
	return None


def enh(lines):
	"""The enhanced status code of the last reply line."""
	assert ENH_RE.match(lines[-1]), lines
	return lines[-1][4:].split(b" ")[0].decode()


# --------------------------------------------------------------------------
# An independent SCRAM-SHA-256 client (RFC 5802, RFC 7677)
# --------------------------------------------------------------------------

def _hmac(key, msg):
	return hmac.new(key, msg.encode() if isinstance(msg, str) else msg,
	    hashlib.sha256).digest()


def saslname(user):
	return user.replace("=", "=3D").replace(",", "=2C")


class Scram:
	def __init__(self, user, password, cbind=None):
		"""cbind: None (gs2 "n"), "y" (client supports channel binding
		but believes the server does not), or (type, data) for PLUS."""
		self.password = password
		self.nonce = b64(os.urandom(18))
		if cbind is None:
			self.gs2 = "n,,"
			self.cbdata = b""
		elif cbind == "y":
			self.gs2 = "y,,"
			self.cbdata = b""
		else:
			self.gs2 = f"p={cbind[0]},,"
			self.cbdata = cbind[1]
		self.bare = f"n={saslname(user)},r={self.nonce}"

	def first(self):
		return b64(self.gs2 + self.bare)

	def final(self, server_first_b64):
		sf = unb64(server_first_b64).decode()
		attrs = dict(kv.split("=", 1) for kv in sf.split(","))
		r, salt, i = attrs["r"], base64.b64decode(attrs["s"]), \
		    int(attrs["i"])
		assert r.startswith(self.nonce) and len(r) > len(self.nonce), \
		    f"server nonce does not extend ours: {sf!r}"
		assert i >= 4096, f"iteration count below RFC 7677's 4096: {i}"
		salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(),
		    salt, i)
		client_key = _hmac(salted, "Client Key")
		stored_key = hashlib.sha256(client_key).digest()
		c = b64(self.gs2.encode() + self.cbdata)
		without_proof = f"c={c},r={r}"
		auth_msg = f"{self.bare},{sf},{without_proof}"
		sig = _hmac(stored_key, auth_msg)
		proof = bytes(a ^ b for a, b in zip(client_key, sig))
		self.server_sig = _hmac(_hmac(salted, "Server Key"), auth_msg)
		return b64(f"{without_proof},p={b64(proof)}")

	def verify(self, server_final_b64):
		sf = unb64(server_final_b64).decode()
		assert sf.startswith("v="), f"server-final: {sf!r}"
		assert base64.b64decode(sf[2:]) == self.server_sig, \
		    "server signature does not verify: the server does not " \
		    "know the password"


def scram_login(c, user, password, mech="SCRAM-SHA-256", cbind=None):
	"""Run a SCRAM exchange on c; returns the final (code, lines)."""
	sc = Scram(user, password, cbind)
	code, lines = c.cmd(f"AUTH {mech} {sc.first()}")
	if code != 334:
		return code, lines
	code, lines = c.cmd(sc.final(lines[0][4:].decode()))
	if code != 334:
		return code, lines
	sc.verify(lines[0][4:].decode())
	return c.cmd("")


def endpoint_cbind(c):
	"""tls-server-end-point (RFC 5929): the server certificate's hash
	(the self-signed one is ECDSA with SHA-256)."""
	der = c.sock.getpeercert(binary_form=True)
	return ("tls-server-end-point", hashlib.sha256(der).digest())


# --------------------------------------------------------------------------
# Where AUTH is offered
# --------------------------------------------------------------------------

def test_auth_not_offered_on_port_25_even_under_tls(moat_server):
	with RawSMTP(moat_server.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		assert auth_keywords(c.ehlo()) is None
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 502 and enh(lines) == "5.5.1", lines
		c.expect("STARTTLS", 220)
		c.starttls()
		assert auth_keywords(c.ehlo()) is None
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 502 and enh(lines) == "5.5.1", lines
		# Not authenticated: a relay attempt is still refused.
		c.expect("MAIL FROM:<demo@example.test>", 250)
		code, lines = c.cmd("RCPT TO:<user@other.example>")
		assert code == 554 and enh(lines) == "5.7.1", lines


def test_auth_not_offered_before_starttls_on_submission(moat_server):
	c, exts = submission_client(moat_server, tls=False)
	with c:
		assert "STARTTLS" in exts
		assert auth_keywords(exts) is None, exts
		for mech in (f"PLAIN {plain_response(DEMO, DEMO_PW)}", "LOGIN",
		    "SCRAM-SHA-256"):
			code, lines = c.cmd(f"AUTH {mech}")
			assert code == 538 and enh(lines) == "5.7.11", (mech, lines)
		# The session is still usable: upgrade and authenticate.
		c.expect("STARTTLS", 220)
		c.starttls()
		assert auth_keywords(c.ehlo()) is not None
		login_plain(c, DEMO, DEMO_PW)


@pytest.mark.parametrize("implicit", [False, True],
    ids=["submission-starttls", "submissions-implicit"])
def test_auth_mechanisms_under_tls(moat_server, implicit):
	c, exts = submission_client(moat_server, implicit=implicit)
	with c:
		assert c.sock.version() == "TLSv1.3", c.sock.version()
		mechs = auth_keywords(exts)
		assert mechs == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN",
		    "LOGIN"], exts
		assert "STARTTLS" not in [e.upper() for e in exts]


def test_cleartext_loopback_offers_plain_and_login(make_server):
	srv = make_server({"auth": {"cleartext_loopback": "yes"}})
	c, exts = submission_client(srv, tls=False)
	with c:
		mechs = auth_keywords(exts)
		assert mechs is not None, exts
		assert "PLAIN" in mechs and "LOGIN" in mechs, mechs
		# No TLS, no channel binding.
		assert "SCRAM-SHA-256-PLUS" not in mechs, mechs
		login_plain(c, DEMO, DEMO_PW)
		c.expect(f"MAIL FROM:<{DEMO}>", 250)


def test_cleartext_loopback_off_by_default_refuses_plain(moat_server):
	c, _ = submission_client(moat_server, tls=False)
	with c:
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 538, lines


# --------------------------------------------------------------------------
# Mechanisms
# --------------------------------------------------------------------------

@pytest.mark.parametrize("implicit", [False, True],
    ids=["submission-starttls", "submissions-implicit"])
def test_plain_with_initial_response(moat_server, implicit):
	c, _ = submission_client(moat_server, implicit=implicit)
	with c:
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 235 and enh(lines) == "2.7.0", lines


def test_plain_after_empty_challenge(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH PLAIN")
		assert code == 334 and lines[0] in (b"334 ", b"334"), lines
		code, lines = c.cmd(plain_response(DEMO, DEMO_PW))
		assert code == 235 and enh(lines) == "2.7.0", lines


def test_plain_authzid_equal_to_user_is_accepted(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH PLAIN "
		    + plain_response(DEMO, DEMO_PW, authzid=DEMO))
		assert code == 235, lines


def test_login(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH LOGIN")
		assert code == 334, lines
		assert unb64(lines[0][4:]).lower().startswith(b"username"), lines
		code, lines = c.cmd(b64(DEMO))
		assert code == 334, lines
		assert unb64(lines[0][4:]).lower().startswith(b"password"), lines
		code, lines = c.cmd(b64(DEMO_PW))
		assert code == 235 and enh(lines) == "2.7.0", lines


def test_scram_sha_256(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, DEMO_PW)
		assert code == 235 and enh(lines) == "2.7.0", lines
		c.expect(f"MAIL FROM:<{DEMO}>", 250)


def test_scram_sha_256_without_initial_response(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		sc = Scram(DEMO, DEMO_PW)
		code, lines = c.cmd("AUTH SCRAM-SHA-256")
		assert code == 334 and lines[0] in (b"334 ", b"334"), lines
		code, lines = c.cmd(sc.first())
		assert code == 334, lines
		code, lines = c.cmd(sc.final(lines[0][4:].decode()))
		assert code == 334, lines
		sc.verify(lines[0][4:].decode())
		code, lines = c.cmd("")
		assert code == 235, lines


def test_scram_sha_256_plus_tls_server_end_point(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, DEMO_PW,
		    mech="SCRAM-SHA-256-PLUS", cbind=endpoint_cbind(c))
		assert code == 235 and enh(lines) == "2.7.0", lines


def test_scram_plus_with_wrong_channel_binding_fails(moat_server):
	"""A man in the middle terminates TLS with its own certificate: the
	binding data the client sees differ from the server's."""
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, DEMO_PW,
		    mech="SCRAM-SHA-256-PLUS",
		    cbind=("tls-server-end-point", b"\x00" * 32))
		assert code == 535 and enh(lines) == "5.7.8", lines


def test_scram_downgrade_flag_y_is_refused(moat_server):
	"""gs2 flag "y": the client could bind but thinks the server cannot.
	The server advertised -PLUS, so this is a downgrade (RFC 5802 6)."""
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, DEMO_PW, cbind="y")
		assert code == 535 and enh(lines) == "5.7.8", lines


def test_scram_wrong_password_is_535(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, WRONG_PW)
		assert code == 535 and enh(lines) == "5.7.8", lines


def test_unknown_mechanism_is_504(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH CRAM-MD5")
		assert code == 504, lines


def test_smtplib_login(moat_server):
	msg = make_message("via smtplib login", sender=DEMO)
	with smtplib.SMTP("127.0.0.1", moat_server.submission_port,
	    local_hostname="client.example.org", timeout=10) as s:
		s.starttls(context=tls_client_context())
		s.login(DEMO, DEMO_PW)
		s.sendmail(DEMO, [DEMO], msg)
	check_delivered(moat_server.wait_delivered(1)[0], msg, sender=DEMO,
	    tls=True)


def test_smtplib_submissions_port(moat_server):
	msg = make_message("via submissions", sender=DEMO)
	with smtplib.SMTP_SSL("127.0.0.1", moat_server.submissions_port,
	    local_hostname="client.example.org", timeout=10,
	    context=tls_client_context()) as s:
		s.login(DEMO, DEMO_PW)
		s.sendmail(DEMO, [DEMO], msg)
	check_delivered(moat_server.wait_delivered(1)[0], msg, sender=DEMO,
	    tls=True)


# --------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------

def test_wrong_password_535_after_growing_delay(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		t0 = time.monotonic()
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, WRONG_PW)}")
		d1 = time.monotonic() - t0
		assert code == 535 and enh(lines) == "5.7.8", lines
		assert d1 >= 0.8, f"first failure answered after {d1:.2f}s"
		t0 = time.monotonic()
		code, lines = c.cmd("AUTH LOGIN")
		assert code == 334, lines
		c.cmd(b64(DEMO))
		code, lines = c.cmd(b64(WRONG_PW))
		d2 = time.monotonic() - t0
		assert code == 535 and enh(lines) == "5.7.8", lines
		assert d2 >= 1.8, f"second failure answered after {d2:.2f}s"
		assert d2 > d1, (d1, d2)
		# The right password still works in the same session.
		login_plain(c, DEMO, DEMO_PW)


def test_unknown_user_is_535_like_a_wrong_password(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		t0 = time.monotonic()
		code, lines = c.cmd("AUTH PLAIN "
		    + plain_response("nobody@example.test", DEMO_PW))
		assert code == 535 and enh(lines) == "5.7.8", lines
		assert time.monotonic() - t0 >= 0.8


def test_star_cancels_the_exchange(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH LOGIN")
		assert code == 334, lines
		code, lines = c.cmd("*")
		assert code == 501, lines
		code, lines = c.cmd("AUTH SCRAM-SHA-256")
		assert code == 334, lines
		code, lines = c.cmd("*")
		assert code == 501, lines
		# Not authenticated afterwards, but can try again.
		code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
		assert code == 530, lines
		login_plain(c, DEMO, DEMO_PW)


def test_garbage_base64_is_501(moat_server):
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd("AUTH PLAIN !!!not-base64!!!")
		assert code == 501, lines


def test_already_authenticated_is_503(moat_server):
	c, exts = submission_client(moat_server)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 503, lines
		# And AUTH is no longer advertised.
		assert auth_keywords(c.ehlo()) is None


def test_account_with_smtp_off_cannot_authenticate(moat_server):
	moat_server.ctl("account", "set", DEMO, "smtp=off")
	c, _ = submission_client(moat_server)
	with c:
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 535 and enh(lines) == "5.7.8", lines
		code, lines = scram_login(c, DEMO, DEMO_PW)
		assert code == 535, lines
	moat_server.ctl("account", "set", DEMO, "smtp=on")
	c, _ = submission_client(moat_server)
	with c:
		login_plain(c, DEMO, DEMO_PW)


def test_new_password_replaces_both_credentials(moat_server):
	"""account passwd derives the yescrypt hash and the SCRAM credential
	again: the old password works for neither PLAIN nor SCRAM."""
	moat_server.ctl("account", "passwd", DEMO, input="new-password-2\n")
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, "new-password-2")
		assert code == 235, lines
	c, _ = submission_client(moat_server)
	with c:
		code, lines = scram_login(c, DEMO, DEMO_PW)
		assert code == 535, lines
		code, lines = c.cmd(f"AUTH PLAIN {plain_response(DEMO, DEMO_PW)}")
		assert code == 535, lines


# --------------------------------------------------------------------------
# Submission policy
# --------------------------------------------------------------------------

@pytest.mark.parametrize("implicit", [False, True],
    ids=["submission-starttls", "submissions-implicit"])
def test_submission_requires_auth(moat_server, implicit):
	c, _ = submission_client(moat_server, implicit=implicit)
	with c:
		code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
		assert code == 530 and enh(lines) == "5.7.0", lines
		# Even for a local recipient.
		code, lines = c.cmd(f"RCPT TO:<{DEMO}>")
		assert code in (503, 530), lines
	assert moat_server.maildir_files() == []


def test_submission_before_starttls_requires_auth(moat_server):
	c, _ = submission_client(moat_server, tls=False)
	with c:
		code, lines = c.cmd(f"MAIL FROM:<{DEMO}>")
		assert code == 530 and enh(lines) == "5.7.0", lines


def sender_session(srv):
	c, _ = submission_client(srv)
	login_plain(c, DEMO, DEMO_PW)
	return c


@pytest.fixture
def owned_setup(make_server):
	# Every refused sender counts as a client error.
	srv = make_server({"limits": {"errors": "50"}})
	srv.ctl("alias", "add", "sales@example.test", DEMO)
	srv.add_account(CAROL, CAROL_PW)
	srv.ctl("alias", "add", "team@example.test", CAROL)
	return srv


OWNED = [DEMO, "sales@example.test", "postmaster@example.test",
    "anything@catchall.test", "demo@EXAMPLE.TEST", ""]
NOT_OWNED = [CAROL, "team@example.test", "nosuchuser@example.test",
    "demo@other.example", "bob@other.test", "demo@example.test.evil"]


def test_envelope_sender_must_be_owned(owned_setup):
	srv = owned_setup
	with sender_session(srv) as c:
		for addr in OWNED:
			code, lines = c.cmd(f"MAIL FROM:<{addr}>")
			assert code == 250, (addr, lines)
			c.expect("RSET", 250)
		for addr in NOT_OWNED:
			code, lines = c.cmd(f"MAIL FROM:<{addr}>")
			assert code == 553 and enh(lines) == "5.7.1", (addr, lines)
			c.expect("RSET", 250)


def send_with_from(c, header_from, envelope=DEMO):
	c.expect(f"MAIL FROM:<{envelope}>", 250)
	c.expect(f"RCPT TO:<{DEMO}>", 250)
	c.expect("DATA", 354)
	msg = make_message("from check", sender=header_from)
	c.send(msg + b".\r\n")
	return c.reply(), msg


@pytest.mark.parametrize("header_from", [
    DEMO,
    f"Demo User <{DEMO}>",
    '"carol@example.test" <demo@example.test>',
    "Sales <sales@example.test>",
    "someone@catchall.test",
    "Demo <demo@example.test>,\r\n Sales <sales@example.test>",
])
def test_header_from_owned_is_accepted(owned_setup, header_from):
	srv = owned_setup
	with sender_session(srv) as c:
		(code, lines), msg = send_with_from(c, header_from)
		assert code == 250, (header_from, lines)
	check_delivered(srv.wait_delivered(1)[0], msg, sender=DEMO)


@pytest.mark.parametrize("header_from", [
    CAROL,
    f"Carol <{CAROL}>",
    "Team <team@example.test>",
    "The Bank <security@bank.example>",
    f"Demo <{DEMO}>, Carol <{CAROL}>",
    f"Demo <{DEMO}>,\r\n\tCarol <{CAROL}>",
    '"demo@example.test" <carol@example.test>',
])
def test_header_from_not_owned_is_553_at_end_of_data(owned_setup,
    header_from):
	srv = owned_setup
	with sender_session(srv) as c:
		(code, lines), _ = send_with_from(c, header_from)
		assert code == 553 and enh(lines) == "5.7.1", (header_from, lines)
		# The session goes on.
		c.expect("NOOP", 250)
	time.sleep(0.5)
	assert srv.maildir_files() == []
	assert srv.maildir_files(CAROL) == []


def test_null_sender_with_owned_header_from(owned_setup):
	with sender_session(owned_setup) as c:
		(code, lines), _ = send_with_from(c, DEMO, envelope="")
		assert code == 250, lines


def test_unauthenticated_port_25_sender_is_not_checked(moat_server):
	"""Ownership applies to authenticated sessions: inbound mail on port
	25 from other sites may claim any sender."""
	with RawSMTP(moat_server.smtp_port) as c:
		c.greeting()
		c.ehlo()
		(code, lines), _ = send_with_from(c, f"Carol <{CAROL}>",
		    envelope="someone@elsewhere.example")
		assert code == 250, lines


# --------------------------------------------------------------------------
# Relay setting
# --------------------------------------------------------------------------

def test_authenticated_user_may_relay(moat_server):
	with sender_session(moat_server) as c:
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		c.expect("RCPT TO:<user@other.example>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)


def test_relay_off_refuses_other_domains_keeps_local(moat_server):
	moat_server.ctl("account", "set", DEMO, "relay=off")
	with sender_session(moat_server) as c:
		c.expect(f"MAIL FROM:<{DEMO}>", 250)
		code, lines = c.cmd("RCPT TO:<user@other.example>")
		assert code == 554 and enh(lines) == "5.7.1", lines
		c.expect(f"RCPT TO:<{DEMO}>", 250)
		c.expect("DATA", 354)
		msg = make_message("relay off, local ok", sender=DEMO)
		c.send(msg + b".\r\n")
		code, lines = c.reply()
		assert code == 250, lines
	check_delivered(moat_server.wait_delivered(1)[0], msg, sender=DEMO)


def test_any_sender_exception_may_use_any_address(make_server):
	"""[auth] any_sender names accounts allowed to send as anyone; others
	still may not."""
	srv = make_server(overrides={"auth": {"any_sender": DEMO}})
	c, _ = submission_client(srv)
	with c:
		login_plain(c, DEMO, DEMO_PW)
		c.expect("MAIL FROM:<someone@elsewhere.example>", 250)
		c.expect(f"RCPT TO:<{DEMO}>", 250)
	srv.add_account(CAROL, "carol-pw-1")
	c, _ = submission_client(srv)
	with c:
		login_plain(c, CAROL, "carol-pw-1")
		code, lines = c.cmd("MAIL FROM:<someone@elsewhere.example>")
		assert code == 553, lines
