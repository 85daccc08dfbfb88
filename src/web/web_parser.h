/* web_parser: a pure HTTP/1.1 request reader (RFC 9112) for the small
 * HTTPS service of moatd (one-click unsubscribe, RFC 8058). It is fed
 * bytes as they arrive and keeps only what the session needs, in fixed
 * buffers: method, target, version, Host, Content-Type, Content-Length
 * and a small body. Every limit is a named constant; every refusal comes
 * with the HTTP status code the session must answer. No I/O. */
#ifndef MOAT_WEB_PARSER_H
#define MOAT_WEB_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEB_REQUEST_LINE_MAX	1024	/* incl CRLF; past it: 414 */
#define WEB_HEADER_FIELDS_MAX	50	/* past it: 431 */
#define WEB_HEADER_BLOCK_MAX	(8 * 1024)	/* all fields + CRLFs: 431 */
#define WEB_BODY_MAX		1024	/* Content-Length past it: 413 */
#define WEB_METHOD_MAX		16	/* longest method we keep */
#define WEB_CTYPE_MAX		256	/* Content-Type value kept */
#define WEB_HOST_MAX		256	/* Host value kept */

enum web_method {
	WEB_METHOD_GET = 0,
	WEB_METHOD_HEAD,
	WEB_METHOD_POST,
	WEB_METHOD_OTHER,	/* a registered method we do not serve: 405 */
};

enum web_parser_state {
	WEB_PARSE_REQUEST_LINE = 0,
	WEB_PARSE_HEADERS,
	WEB_PARSE_BODY,
	WEB_PARSE_DONE,
	WEB_PARSE_ERROR,
};

struct web_request {
	enum web_method	 method;
	char		 method_name[WEB_METHOD_MAX + 1];
	char		 target[WEB_REQUEST_LINE_MAX];	/* NUL-ended */
	unsigned	 version_minor;		/* HTTP/1.x */
	char		 host[WEB_HOST_MAX + 1];
	bool		 has_host;
	char		 content_type[WEB_CTYPE_MAX + 1];
	bool		 has_length;
	size_t		 content_length;
	uint8_t		 body[WEB_BODY_MAX];
	size_t		 body_len;
};

struct web_parser {
	enum web_parser_state	 state;
	struct web_request	 req;
	char			 line[WEB_HEADER_BLOCK_MAX];	/* current */
	size_t			 line_len;
	size_t			 header_bytes;	/* of the header block */
	unsigned		 nfields;
	int			 status;	/* on error: the HTTP code */
	const char		*error;		/* on error: why (static) */
};

void web_parser_init(struct web_parser *p);
/* Feed len bytes of data. Returns 1 when the request is complete
 * (*used_r: bytes of data it took; the rest is not part of it), 0 when
 * more input is needed (all of data was taken), -1 on a malformed or
 * refused request: p->status is the code to answer (400, 411, 413, 414,
 * 431, 501, 505) and p->error says why. After 1 or -1 the parser takes
 * nothing more. */
int web_parser_feed(struct web_parser *p, const uint8_t *data, size_t len,
    size_t *used_r);

/* The reason phrase of an HTTP status code ("Bad Request"). */
const char *web_status_text(int status);

#endif
