"""POP-before-SMTP ([auth] pop_before_smtp): a client address that logged
in over POP3 may relay for pop_before_smtp_window; others may not."""
import poplib
import socket

from conftest import DEMO, DEMO_PW, OUTSIDE, RawSMTP
from test_pop3 import pop3_server

SENDER = "alice@client.example.org"


class OutsidePOP3(poplib.POP3):
	"""poplib from the outside loopback address."""

	def _create_socket(self, timeout):
		return socket.create_connection((self.host, self.port), timeout,
		    source_address=(OUTSIDE, 0))


def relay_code(srv):
	with RawSMTP(srv.smtp_port, source=OUTSIDE) as c:
		c.greeting()
		c.ehlo()
		c.expect(f"MAIL FROM:<{SENDER}>", 250)
		return c.cmd("RCPT TO:<user@other.example>")[0]


def pop_login(srv):
	p = OutsidePOP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(DEMO)
	p.pass_(DEMO_PW)
	p.quit()


def test_pop_login_opens_the_relay_window(make_server):
	srv = pop3_server(make_server, overrides={
	    "auth": {"pop_before_smtp": "yes"}})
	assert relay_code(srv) == 554
	pop_login(srv)
	assert relay_code(srv) == 250


def test_off_by_default(make_server):
	srv = pop3_server(make_server)
	pop_login(srv)
	assert relay_code(srv) == 554


def test_failed_login_opens_nothing(make_server):
	srv = pop3_server(make_server, overrides={
	    "auth": {"pop_before_smtp": "yes"}})
	p = OutsidePOP3("127.0.0.1", srv.pop3_port, timeout=10)
	p.user(DEMO)
	try:
		p.pass_("wrong-password")
		raise AssertionError("wrong password accepted")
	except poplib.error_proto:
		pass
	assert relay_code(srv) == 554
