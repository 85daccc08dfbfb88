/* web_parser: the HTTP/1.1 request reader. See web_parser.h.
 *
 * A byte-driven state machine: the request line and each header field
 * are collected in p->line (bounded before any byte is stored), then
 * interpreted; the body is copied up to Content-Length. CRLF strict (a
 * bare LF or CR is a 400), no obs-fold, no Transfer-Encoding (we never
 * need a chunked body: 501), Content-Length required for POST (411).
 * Only the fields the session uses are kept. */
#include "web_parser.h"

#include <string.h>

#include "util.h"

/* Registered methods (RFC 9110 9) we do not serve: 405, not 501. */
static const char *const other_methods[] = { "PUT", "DELETE", "CONNECT",
	"OPTIONS", "TRACE", "PATCH" };

void
web_parser_init(struct web_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = WEB_PARSE_REQUEST_LINE;
}

static int
fail(struct web_parser *p, int status, const char *why)
{
	p->state = WEB_PARSE_ERROR;
	p->status = status;
	p->error = why;
	return -1;
}

/* tchar (RFC 9110 5.6.2). */
static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* method = token: one we serve, another registered one (405 later), or
 * unknown (501). */
static int
parse_method(struct web_parser *p, const char *m, size_t len)
{
	struct web_request *r = &p->req;
	size_t i;

	if (len == 0)
		return fail(p, 400, "empty method");
	for (i = 0; i < len; i++)
		if (!is_tchar((unsigned char)m[i]))
			return fail(p, 400, "bad method");
	if (len > WEB_METHOD_MAX)
		return fail(p, 501, "unknown method");
	memcpy(r->method_name, m, len);
	r->method_name[len] = '\0';
	/* Methods are case-sensitive (RFC 9110 9.1). */
	if (strcmp(r->method_name, "GET") == 0)
		r->method = WEB_METHOD_GET;
	else if (strcmp(r->method_name, "HEAD") == 0)
		r->method = WEB_METHOD_HEAD;
	else if (strcmp(r->method_name, "POST") == 0)
		r->method = WEB_METHOD_POST;
	else {
		for (i = 0; i < sizeof(other_methods) /
		    sizeof(other_methods[0]); i++)
			if (strcmp(r->method_name, other_methods[i]) == 0)
				break;
		if (i == sizeof(other_methods) / sizeof(other_methods[0]))
			return fail(p, 501, "unknown method");
		r->method = WEB_METHOD_OTHER;
	}
	return 0;
}

/* request-target in origin-form ("/path?query"), or absolute-form
 * ("https://host/path"), which a server must accept (RFC 9112 3.2.2)
 * and which we reduce to its path. Visible ASCII only. */
static int
parse_target(struct web_parser *p, const char *t, size_t len)
{
	struct web_request *r = &p->req;
	const char *slash;
	size_t i, skip = 0;

	for (i = 0; i < len; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return fail(p, 400, "bad character in target");
	if (len >= 8 && ascii_nieq(t, "https://", 8))
		skip = 8;
	else if (len >= 7 && ascii_nieq(t, "http://", 7))
		skip = 7;
	if (skip > 0) {
		slash = memchr(t + skip, '/', len - skip);
		if (slash == NULL) {
			moat_strlcpy(r->target, "/", sizeof(r->target));
			return 0;
		}
		/* UNSAFE: slash lies within t[skip, len). */
		len -= (size_t)(slash - t);
		t = slash;
	}
	if (len == 0 || t[0] != '/')
		return fail(p, 400, "target not in origin-form");
	/* len < WEB_REQUEST_LINE_MAX = sizeof(r->target): the line fit. */
	memcpy(r->target, t, len);
	r->target[len] = '\0';
	return 0;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). */
static int
parse_version(struct web_parser *p, const char *v, size_t len)
{
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) ||
	    v[6] != '.' || !is_digit(v[7]))
		return fail(p, 400, "bad HTTP version");
	if (v[5] != '1')
		return fail(p, 505, "HTTP major version not supported");
	p->req.version_minor = (unsigned)(v[7] - '0');
	return 0;
}

/* request-line = method SP request-target SP HTTP-version (CRLF gone) */
static int
request_line(struct web_parser *p, const char *l, size_t len)
{
	const char *sp1, *sp2;

	sp1 = memchr(l, ' ', len);
	if (sp1 == NULL)
		return fail(p, 400, "malformed request line");
	/* UNSAFE: sp1 within l[0, len). */
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - l));
	if (sp2 == NULL)
		return fail(p, 400, "malformed request line");
	if (parse_method(p, l, (size_t)(sp1 - l)) < 0 ||
	    parse_target(p, sp1 + 1, (size_t)(sp2 - sp1 - 1)) < 0 ||
	    parse_version(p, sp2 + 1, len - (size_t)(sp2 + 1 - l)) < 0)
		return -1;
	p->state = WEB_PARSE_HEADERS;
	return 0;
}

static bool
name_is(const char *n, size_t len, const char *want)
{
	return len == strlen(want) && ascii_nieq(n, want, len);
}

/* Content-Length = 1*DIGIT (RFC 9110 8.6); more than WEB_BODY_MAX is a
 * 413 whatever its size, so no overflow is possible. */
static int
content_length(struct web_parser *p, const char *v, size_t len)
{
	struct web_request *r = &p->req;
	size_t i, n = 0;
	bool big = false;

	if (len == 0)
		return fail(p, 400, "bad Content-Length");
	for (i = 0; i < len; i++) {
		if (!is_digit(v[i]))
			return fail(p, 400, "bad Content-Length");
		if (!big)
			n = n * 10 + (size_t)(v[i] - '0');
		if (n > WEB_BODY_MAX)
			big = true;
	}
	if (r->has_length && (big || n != r->content_length))
		return fail(p, 400, "conflicting Content-Length");
	if (big)
		return fail(p, 413, "body too large");
	r->has_length = true;
	r->content_length = n;
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5; no
 * whitespace before the colon, no obs-fold). */
static int
header_line(struct web_parser *p, const char *l, size_t len)
{
	struct web_request *r = &p->req;
	const char *colon, *v;
	size_t i, nlen, vlen;

	if (l[0] == ' ' || l[0] == '\t')
		return fail(p, 400, "obsolete line folding");
	if (++p->nfields > WEB_HEADER_FIELDS_MAX)
		return fail(p, 431, "too many header fields");
	colon = memchr(l, ':', len);
	if (colon == NULL || colon == l)
		return fail(p, 400, "malformed header field");
	nlen = (size_t)(colon - l);
	for (i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return fail(p, 400, "bad header field name");
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (i = 0; i < vlen; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f)
			return fail(p, 400, "control character in field");
	if (name_is(l, nlen, "Host")) {
		if (r->has_host)
			return fail(p, 400, "more than one Host");
		if (vlen > WEB_HOST_MAX)
			return fail(p, 400, "Host too long");
		memcpy(r->host, v, vlen);
		r->host[vlen] = '\0';
		r->has_host = true;
	} else if (name_is(l, nlen, "Content-Length")) {
		return content_length(p, v, vlen);
	} else if (name_is(l, nlen, "Transfer-Encoding")) {
		return fail(p, 501, "Transfer-Encoding not supported");
	} else if (name_is(l, nlen, "Content-Type")) {
		if (r->content_type[0] != '\0')
			return fail(p, 400, "more than one Content-Type");
		if (vlen > WEB_CTYPE_MAX || vlen == 0)
			return fail(p, 400, "bad Content-Type");
		memcpy(r->content_type, v, vlen);
		r->content_type[vlen] = '\0';
	}
	return 0;
}

/* The blank line: is the request complete, or is a body to come? */
static int
headers_end(struct web_parser *p)
{
	struct web_request *r = &p->req;

	if (r->version_minor >= 1 && !r->has_host)
		return fail(p, 400, "no Host");	/* RFC 9112 3.2 */
	if (r->method == WEB_METHOD_POST && !r->has_length)
		return fail(p, 411, "POST without Content-Length");
	p->state = r->has_length && r->content_length > 0 ?
	    WEB_PARSE_BODY : WEB_PARSE_DONE;
	return 0;
}

/* A complete line (CR LF removed) of the request line or the header. */
static int
line_done(struct web_parser *p)
{
	if (p->state == WEB_PARSE_REQUEST_LINE)
		return request_line(p, p->line, p->line_len);
	if (p->line_len == 0)
		return headers_end(p);
	return header_line(p, p->line, p->line_len);
}

/* The limit that applies to the line being collected: its status. */
static int
line_overflow(struct web_parser *p)
{
	if (p->state == WEB_PARSE_REQUEST_LINE)
		return fail(p, 414, "request line too long");
	return fail(p, 431, "header section too large");
}

int
web_parser_feed(struct web_parser *p, const uint8_t *data, size_t len,
    size_t *used_r)
{
	struct web_request *r = &p->req;
	size_t i = 0, n, max;
	uint8_t c;

	*used_r = 0;
	if (p->state == WEB_PARSE_ERROR)
		return -1;
	if (p->state == WEB_PARSE_DONE)
		return 1;
	while (i < len && (p->state == WEB_PARSE_REQUEST_LINE ||
	    p->state == WEB_PARSE_HEADERS)) {
		c = data[i++];
		/* Bytes of the header block so far, CRLFs included. */
		max = p->state == WEB_PARSE_REQUEST_LINE ?
		    WEB_REQUEST_LINE_MAX : WEB_HEADER_BLOCK_MAX -
		    p->header_bytes;
		if (p->line_len + 1 > max)
			return line_overflow(p);
		if (c == '\n') {
			if (p->line_len == 0 ||
			    p->line[p->line_len - 1] != '\r')
				return fail(p, 400, "bare LF");
			p->line_len--;
			if (p->state == WEB_PARSE_HEADERS)
				p->header_bytes += p->line_len + 2;
			if (line_done(p) < 0)
				return -1;
			p->line_len = 0;
			continue;
		}
		if (c == '\0')
			return fail(p, 400, "NUL in header");
		if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
			return fail(p, 400, "bare CR");
		p->line[p->line_len++] = (char)c;
	}
	if (p->state == WEB_PARSE_BODY) {
		n = r->content_length - r->body_len;
		if (n > len - i)
			n = len - i;
		memcpy(r->body + r->body_len, data + i, n);
		r->body_len += n;
		i += n;
		if (r->body_len == r->content_length)
			p->state = WEB_PARSE_DONE;
	}
	*used_r = i;
	return p->state == WEB_PARSE_DONE ? 1 : 0;
}

const char *
web_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}
