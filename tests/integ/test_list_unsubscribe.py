"""RFC 8058 one-click unsubscribe over the [listen] web service (HTTPS,
implicit TLS): a list copy's List-Unsubscribe URL points at it; a GET
shows a page with a POST button and changes nothing (link scanners fetch
links); a POST with List-Unsubscribe=One-Click removes that member only;
an unknown token is a 404; malformed requests get precise codes (400,
405, 411, 413, 431, 501, 505, 408 on a stalled client); every answer
carries the security headers."""
import http.client
import re
import socket
import ssl
import time
import urllib.parse

import pytest

from conftest import DEMO, free_ports, tls_client_context, wait_until
from test_lists import LIST, CAROL, parse, post

SECURITY_HEADERS = {
	"Content-Security-Policy": "default-src 'none'",
	"X-Content-Type-Options": "nosniff",
	"Cache-Control": "no-store",
}


@pytest.fixture
def web(make_server):
	[port] = free_ports(1)
	url = f"https://127.0.0.1:{port}/unsubscribe"
	srv = make_server(overrides={"listen": {"web": f"127.0.0.1:{port}"},
	    "lists": {"web_url": url}})
	srv.web_port = port
	srv.add_account(CAROL, "pw-carol-1")
	srv.ctl("list", "add", LIST, "--name", "Team talk")
	for m in (DEMO, CAROL):
		srv.ctl("list", "member", "add", LIST, m)
	return srv


def members(srv):
	return srv.ctl("list", "show", LIST).stdout


def unsub_url(srv, user):
	"""The one-click URL of user's copy of a post to the list."""
	post(srv, CAROL, LIST, "hello " + user)
	[data] = srv.wait_delivered(1, user=user)
	m = parse(data)
	assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
	urls = re.findall(r"<([^>]*)>", " ".join(m["List-Unsubscribe"].split()))
	assert urls[0].startswith("mailto:"), urls
	return urllib.parse.urlsplit(urls[1])


def request(srv, method, target, body=None, headers=None):
	c = http.client.HTTPSConnection("127.0.0.1", srv.web_port, timeout=10,
	    context=tls_client_context())
	try:
		c.request(method, target, body=body, headers=headers or {})
		r = c.getresponse()
		return r.status, dict(r.getheaders()), r.read()
	finally:
		c.close()


def raw(srv, data, read_timeout=10):
	"""Send raw bytes over TLS; the status code of the answer."""
	ctx = tls_client_context()
	with socket.create_connection(("127.0.0.1", srv.web_port),
	    timeout=read_timeout) as s:
		with ctx.wrap_socket(s) as t:
			if data:
				t.sendall(data)
			got = b""
			while b"\r\n" not in got:
				chunk = t.recv(4096)
				if not chunk:
					break
				got += chunk
	m = re.match(rb"HTTP/1\.1 (\d{3}) ", got)
	assert m, got
	return int(m.group(1))


def assert_secure(headers):
	for k, v in SECURITY_HEADERS.items():
		assert v in headers.get(k, ""), (k, headers)


def test_get_shows_form_post_unsubscribes(web):
	u = unsub_url(web, DEMO)
	assert u.scheme == "https" and u.port == web.web_port
	assert u.path == "/unsubscribe"
	q = urllib.parse.parse_qs(u.query)
	assert q["list"] == [LIST] and re.fullmatch(r"[0-9a-f]{32}",
	    q["token"][0])
	target = u.path + "?" + u.query
	# GET: a page with a POST button; nothing changes.
	status, hdrs, body = request(web, "GET", target)
	assert status == 200, body
	assert_secure(hdrs)
	assert hdrs["Content-Type"].startswith("text/html")
	assert b'<form method="post">' in body
	assert b'name="List-Unsubscribe" value="One-Click"' in body
	assert LIST.encode() not in body and q["token"][0].encode() not in body
	show = members(web)
	assert re.search(r"demo@example\.test\s+active", show), show
	# HEAD is a GET without the body.
	status, hdrs, body = request(web, "HEAD", target)
	assert status == 200 and body == b""
	# POST without the one-click body: refused, still subscribed.
	status, _, _ = request(web, "POST", target, body="x=y", headers={
	    "Content-Type": "application/x-www-form-urlencoded"})
	assert status == 400
	assert "demo@example.test" in members(web)
	# The one-click POST (RFC 8058 3.1).
	status, hdrs, body = request(web, "POST", target,
	    body="List-Unsubscribe=One-Click", headers={
	    "Content-Type": "application/x-www-form-urlencoded"})
	assert status == 200, body
	assert_secure(hdrs)
	assert b"Unsubscribed" in body
	show = members(web)
	assert "demo@example.test" not in show, show
	assert re.search(r"carol@example\.test\s+active", show), show
	assert web.wait_log(r"web session=[0-9a-f]{16} event=unsubscribe "
	    r"list=team@example\.test member=demo@example\.test")
	# The token is gone with the member: a second POST is a 404.
	status, _, _ = request(web, "POST", target,
	    body="List-Unsubscribe=One-Click", headers={
	    "Content-Type": "application/x-www-form-urlencoded"})
	assert status == 404
	# The next post reaches carol only.
	post(web, CAROL, LIST, "after")
	web.wait_log(r"event=list-expanded .* copies=1")


def test_multipart_post_unsubscribes(web):
	u = unsub_url(web, CAROL)
	b = "moat-boundary-42"
	body = (f"--{b}\r\nContent-Disposition: form-data; "
	    f"name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{b}--\r\n")
	status, _, _ = request(web, "POST", u.path + "?" + u.query, body=body,
	    headers={"Content-Type": f"multipart/form-data; boundary={b}"})
	assert status == 200
	show = members(web)
	assert "carol@example.test" not in show, show
	assert "demo@example.test" in show


def test_bad_token_path_and_method(web):
	u = unsub_url(web, DEMO)
	one_click = {"body": "List-Unsubscribe=One-Click", "headers": {
	    "Content-Type": "application/x-www-form-urlencoded"}}
	bad = u.path + "?list=" + urllib.parse.quote(LIST) + "&token=" + \
	    "0" * 32
	assert request(web, "POST", bad, **one_click)[0] == 404
	assert request(web, "GET", bad)[0] == 404
	# The token of another list (or no list) does not match.
	other = u.query.replace("list=team", "list=other")
	assert request(web, "POST", u.path + "?" + other, **one_click)[0] == \
	    404
	assert request(web, "POST", "/elsewhere?" + u.query,
	    **one_click)[0] == 404
	status, hdrs, _ = request(web, "DELETE", u.path + "?" + u.query)
	assert status == 405 and "POST" in hdrs.get("Allow", "")
	assert_secure(hdrs)
	assert "demo@example.test" in members(web)


def test_malformed_requests(web):
	host = b"Host: x\r\n"
	assert raw(web, b"GARBAGE\r\n\r\n") == 400
	assert raw(web, b"GET /unsubscribe HTTP/1.1\nHost: x\n\n") == 400
	assert raw(web, b"GET /unsubscribe HTTP/1.1\r\n\r\n") == 400
	assert raw(web, b"GET /unsubscribe HTTP/2.0\r\n" + host + b"\r\n") \
	    == 505
	assert raw(web, b"BREW /unsubscribe HTTP/1.1\r\n" + host + b"\r\n") \
	    == 501
	assert raw(web, b"POST /unsubscribe HTTP/1.1\r\n" + host + b"\r\n") \
	    == 411
	assert raw(web, b"POST /unsubscribe HTTP/1.1\r\n" + host +
	    b"Transfer-Encoding: chunked\r\n\r\n") == 501
	assert raw(web, b"POST /unsubscribe HTTP/1.1\r\n" + host +
	    b"Content-Length: 5000\r\n\r\n") == 413
	assert raw(web, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n" + host +
	    b"\r\n") == 414
	# One header line past the 8 KiB header block.
	assert raw(web, b"GET /unsubscribe HTTP/1.1\r\n" + host +
	    b"X-Long: " + b"a" * 9000 + b"\r\n\r\n") == 431
	many = b"".join(b"X-%d: y\r\n" % i for i in range(60))
	assert raw(web, b"GET /unsubscribe HTTP/1.1\r\n" + host + many +
	    b"\r\n") == 431
	# A client that sends half a request and stalls: 408 at the
	# deadline ([limits] idle_timeout = 3 in tests).
	t0 = time.monotonic()
	assert raw(web, b"GET /unsubscribe HTTP/1.1\r\n") == 408
	assert time.monotonic() - t0 >= 2
	assert web.wait_log(r"web session=[0-9a-f]{16} event=timeout")
	assert "demo@example.test" in members(web)


def test_http_client_over_long_header_is_431(web):
	u = unsub_url(web, DEMO)
	status, hdrs, _ = request(web, "GET", u.path + "?" + u.query,
	    headers={"X-Filler": "z" * 9000})
	assert status == 431
	assert_secure(hdrs)


def test_tls_record_past_the_buffer_is_431(web):
	"""One TLS record larger than the room left in the input buffer: the
	request is refused whole (431), never parsed with the record's bytes
	missing (which spliced a Transfer-Encoding header away and let a
	one-click POST through)."""
	u = unsub_url(web, DEMO)
	target = (u.path + "?" + u.query).encode()
	records = [b"POST " + target + b" HTTP/1.1\r\nHost: x\r\n"
	    b"Content-Type: application/x-www-form-urlencoded\r\n"
	    b"Content-Length: 26\r\n",
	    b"Transfer-Encoding: chunked\r\nX-Pad: " + b"a" * 12000 + b"\r\n",
	    b"\r\nList-Unsubscribe=One-Click"]
	got = b""
	with socket.create_connection(("127.0.0.1", web.web_port),
	    timeout=10) as s:
		with tls_client_context().wrap_socket(s) as t:
			try:
				for r in records:
					t.send(r)	# one TLS record each
					time.sleep(0.2)
			except OSError:
				pass		# refused before the last record
			while b"\r\n" not in got:
				chunk = t.recv(4096)
				if not chunk:
					break
				got += chunk
	assert got.startswith(b"HTTP/1.1 431 "), got[:100]
	assert "demo@example.test" in members(web)
	assert web.wait_log(r"event=bad-request status=431 "
	    r'error="input past the buffer"')
