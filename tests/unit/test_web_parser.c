/* test_web_parser: the HTTP/1.1 request reader of the web service and the
 * form helpers. Every case runs fed whole and one byte at a time; valid
 * requests give the fields the session uses, invalid ones the precise
 * status code (400, 411, 413, 414, 431, 501, 505). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web_form.h"
#include "web_parser.h"

#define TOKEN	"0123456789abcdef0123456789abcdef"

/* Feed text whole (step 0) or step bytes at a time: the feed result. */
static int
run(struct web_parser *p, const char *text, size_t len, size_t step)
{
	size_t off = 0, n, used;
	int r = 0;

	web_parser_init(p);
	if (step == 0)
		step = len ? len : 1;
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = web_parser_feed(p, (const uint8_t *)text + off, n, &used);
		if (r != 0)
			return r;
		assert_int_equal(used, n);
		off += n;
	}
	return r;
}

struct valid_case {
	const char		*text;
	enum web_method		 method;
	const char		*target;
	const char		*ctype;
	const char		*body;
};

static const struct valid_case valid[] = {
	{ .text = "GET /unsubscribe?list=a%40b&token=" TOKEN " HTTP/1.1\r\n"
	    "Host: lists.example\r\n\r\n",
	  .method = WEB_METHOD_GET,
	  .target = "/unsubscribe?list=a%40b&token=" TOKEN,
	  .ctype = "", .body = "" },
	{ .text = "POST /u HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: 26\r\n\r\nList-Unsubscribe=One-Click",
	  .method = WEB_METHOD_POST, .target = "/u",
	  .ctype = "application/x-www-form-urlencoded",
	  .body = "List-Unsubscribe=One-Click" },
	/* HTTP/1.0 needs no Host; OWS around values is not part of them. */
	{ .text = "HEAD / HTTP/1.0\r\nX-A:  spaced \t\r\n\r\n",
	  .method = WEB_METHOD_HEAD, .target = "/", .ctype = "",
	  .body = "" },
	/* absolute-form is reduced to its path (RFC 9112 3.2.2). */
	{ .text = "GET https://lists.example:8443/p?q=1 HTTP/1.1\r\n"
	    "Host: lists.example\r\n\r\n",
	  .method = WEB_METHOD_GET, .target = "/p?q=1", .ctype = "",
	  .body = "" },
	/* A registered method we do not serve: parsed, 405 later. */
	{ .text = "DELETE /u HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 0\r\n\r\n",
	  .method = WEB_METHOD_OTHER, .target = "/u", .ctype = "",
	  .body = "" },
};

static const char nul_case[] = "GET / HTTP/1.1\r\nHost: x\r\nX: \0\r\n\r\n";

struct invalid_case {
	const char	*name;
	const char	*text;
	int		 status;
};

static const struct invalid_case invalid[] = {
	{ "no version", "GET /\r\n\r\n", 400 },
	{ "bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400 },
	{ "bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n", 400 },
	{ "no host 1.1", "GET / HTTP/1.1\r\n\r\n", 400 },
	{ "two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
	{ "obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
	    400 },
	{ "control in value", "GET / HTTP/1.1\r\nHost: x\001\r\n\r\n", 400 },
	{ "NUL", nul_case, 400 },
	{ "target not origin-form", "GET u HTTP/1.1\r\nHost: x\r\n\r\n",
	    400 },
	{ "bad version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400 },
	{ "lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "empty line first", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
	{ "bad length", "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 1x\r\n\r\n", 400 },
	{ "conflicting lengths", "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400 },
	{ "HTTP/2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
	{ "HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505 },
	{ "unknown method", "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
	{ "lower-case get", "get / HTTP/1.1\r\nHost: x\r\n\r\n", 501 },
	{ "chunked", "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501 },
	{ "POST without length", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", 411 },
	{ "body too large", "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 1025\r\n\r\n", 413 },
	{ "huge length", "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 99999999999999999999999999\r\n\r\n", 413 },
};

static void
test_valid_requests(void **state)
{
	static struct web_parser p;
	size_t i, step, len;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		len = strlen(valid[i].text);
		for (step = 0; step <= 1; step++) {
			assert_int_equal(run(&p, valid[i].text, len, step), 1);
			assert_int_equal(p.req.method, valid[i].method);
			assert_string_equal(p.req.target, valid[i].target);
			assert_string_equal(p.req.content_type,
			    valid[i].ctype);
			assert_int_equal(p.req.body_len,
			    strlen(valid[i].body));
			assert_memory_equal(p.req.body, valid[i].body,
			    p.req.body_len);
		}
	}
}

static void
test_invalid_requests(void **state)
{
	static struct web_parser p;
	size_t i, step, len;

	(void)state;
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		/* "NUL" holds a NUL: its length is up to the final CRLFs. */
		len = strlen(invalid[i].text);
		if (strcmp(invalid[i].name, "NUL") == 0)
			len = sizeof(nul_case) - 1;
		for (step = 0; step <= 1; step++) {
			if (run(&p, invalid[i].text, len, step) != -1 ||
			    p.status != invalid[i].status)
				fail_msg("%s (step %zu): status %d, want %d",
				    invalid[i].name, step, p.status,
				    invalid[i].status);
			assert_non_null(p.error);
		}
	}
}

/* A request line of exactly WEB_REQUEST_LINE_MAX octets with its CRLF
 * passes; one more is a 414. */
static void
test_request_line_limit(void **state)
{
	static struct web_parser p;
	static char text[WEB_REQUEST_LINE_MAX + 64], path[WEB_REQUEST_LINE_MAX];
	size_t pre = strlen("GET /"), post = strlen(" HTTP/1.1\r\n"), n;

	(void)state;
	n = WEB_REQUEST_LINE_MAX - pre - post;
	memset(path, 'a', n + 1);
	snprintf(text, sizeof(text), "GET /%.*s HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int)n, path);
	assert_int_equal(run(&p, text, strlen(text), 0), 1);
	snprintf(text, sizeof(text), "GET /%.*s HTTP/1.1\r\nHost: x\r\n\r\n",
	    (int)n + 1, path);
	assert_int_equal(run(&p, text, strlen(text), 1), -1);
	assert_int_equal(p.status, 414);
}

/* 50 fields pass, 51 are a 431; a field past the 8 KiB block too. */
static void
test_header_limits(void **state)
{
	static struct web_parser p;
	static char text[WEB_HEADER_BLOCK_MAX * 2];
	size_t off, i;

	(void)state;
	off = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n"
	    "Host: x\r\n");
	for (i = 1; i < WEB_HEADER_FIELDS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "X-%zu: y\r\n", i);
	snprintf(text + off, sizeof(text) - off, "\r\n");
	assert_int_equal(run(&p, text, strlen(text), 0), 1);
	snprintf(text + off, sizeof(text) - off, "X-last: y\r\n\r\n");
	assert_int_equal(run(&p, text, strlen(text), 1), -1);
	assert_int_equal(p.status, 431);

	off = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n"
	    "Host: x\r\nX-Long: ");
	memset(text + off, 'a', WEB_HEADER_BLOCK_MAX);
	snprintf(text + off + WEB_HEADER_BLOCK_MAX, sizeof(text) - off -
	    WEB_HEADER_BLOCK_MAX, "\r\n\r\n");
	assert_int_equal(run(&p, text, strlen(text), 0), -1);
	assert_int_equal(p.status, 431);
}

/* The parser stops at the end of the body and takes nothing more. */
static void
test_stops_after_request(void **state)
{
	static struct web_parser p;
	static const char text[] = "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\n\r\nabcEXTRA";
	size_t used;

	(void)state;
	web_parser_init(&p);
	assert_int_equal(web_parser_feed(&p, (const uint8_t *)text,
	    sizeof(text) - 1, &used), 1);
	assert_int_equal(used, sizeof(text) - 1 - 5);
	assert_memory_equal(p.req.body, "abc", 3);
	assert_int_equal(web_parser_feed(&p, (const uint8_t *)"x", 1, &used),
	    1);
	assert_int_equal(used, 0);
}

static void
test_form_get(void **state)
{
	static const char q[] = "a=1&list=team%40example.test&token=" TOKEN
	    "&sp=a+b";
	char v[64];

	(void)state;
	assert_int_equal(web_form_get(q, strlen(q), "list", v, sizeof(v)), 1);
	assert_string_equal(v, "team@example.test");
	assert_int_equal(web_form_get(q, strlen(q), "token", v, sizeof(v)),
	    1);
	assert_string_equal(v, TOKEN);
	assert_int_equal(web_form_get(q, strlen(q), "sp", v, sizeof(v)), 1);
	assert_string_equal(v, "a b");
	assert_int_equal(web_form_get(q, strlen(q), "lis", v, sizeof(v)), 0);
	assert_int_equal(web_form_get(q, strlen(q), "nope", v, sizeof(v)),
	    0);
	/* Bad escapes, decoded controls, values too long: malformed. */
	assert_int_equal(web_form_get("a=%4", 4, "a", v, sizeof(v)), -1);
	assert_int_equal(web_form_get("a=%zz", 5, "a", v, sizeof(v)), -1);
	assert_int_equal(web_form_get("a=%0a", 5, "a", v, sizeof(v)), -1);
	assert_int_equal(web_form_get("a=%00", 5, "a", v, sizeof(v)), -1);
	assert_int_equal(web_form_get("a=12345", 7, "a", v, 5), -1);
	assert_int_equal(web_form_get("a=", 2, "a", v, sizeof(v)), 1);
	assert_string_equal(v, "");
}

static void
test_one_click_bodies(void **state)
{
	static const char mp[] = "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n"
	    "\r\nOne-Click\r\n--XyZ--\r\n";
	static const char mp_wrong[] = "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n"
	    "\r\nTwo-Click\r\n--XyZ--\r\n";
	static const char mp_open[] = "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n"
	    "\r\nOne-Click";
	const char *form = "application/x-www-form-urlencoded";

	(void)state;
#define OC(ct, s) web_form_is_one_click(ct, (const uint8_t *)(s), strlen(s))
	assert_true(OC(form, "List-Unsubscribe=One-Click"));
	assert_true(OC("", "List-Unsubscribe=One-Click"));
	assert_true(OC("Application/X-WWW-Form-Urlencoded; charset=utf-8",
	    "x=1&List-Unsubscribe=One-Click"));
	assert_false(OC(form, "List-Unsubscribe=one-click"));
	assert_false(OC(form, "List-Unsubscribe=One-Click2"));
	assert_false(OC(form, ""));
	assert_false(OC("text/plain", "List-Unsubscribe=One-Click"));
	assert_true(OC("multipart/form-data; boundary=XyZ", mp));
	assert_true(OC("multipart/form-data; boundary=\"XyZ\"", mp));
	assert_false(OC("multipart/form-data; boundary=Other", mp));
	assert_false(OC("multipart/form-data", mp));
	assert_false(OC("multipart/form-data; boundary=XyZ", mp_wrong));
	assert_false(OC("multipart/form-data; boundary=XyZ", mp_open));
#undef OC
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_request_line_limit),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_stops_after_request),
		cmocka_unit_test(test_form_get),
		cmocka_unit_test(test_one_click_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
