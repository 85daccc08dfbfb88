/* fuzz_web_parser: libFuzzer target for web_parser (the HTTP/1.1 request
 * reader of the web service) and web_form (query and one-click body).
 * The first input octet picks a chunk size: the same input is fed whole
 * and in chunks, and both ways must give the same outcome. Errors must
 * carry one of the status codes the parser documents; a complete request
 * must respect every limit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web_form.h"
#include "web_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
feed(struct web_parser *p, const uint8_t *data, size_t size, size_t chunk)
{
	size_t off = 0, n, used;
	int r = 0;

	while (off < size) {
		n = size - off < chunk ? size - off : chunk;
		r = web_parser_feed(p, data + off, n, &used);
		if (used > n)
			abort();
		if (r != 0)
			return r;
		if (used != n)
			abort();	/* 0 takes everything */
		off += n;
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct web_parser whole, trickle;
	const struct web_request *q;
	char v[64];
	int r1, r2;
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	web_parser_init(&whole);
	web_parser_init(&trickle);
	r1 = feed(&whole, data, size, size ? size : 1);
	r2 = feed(&trickle, data, size, chunk);
	if (r1 != r2 || whole.status != trickle.status)
		abort();
	if (r1 < 0) {
		switch (whole.status) {
		case 400: case 411: case 413: case 414: case 431: case 501:
		case 505:
			break;
		default:
			abort();
		}
		return 0;
	}
	if (r1 == 0)
		return 0;
	q = &whole.req;
	if (memcmp(q, &trickle.req, sizeof(*q)) != 0)
		abort();
	if (q->target[0] != '/' || strlen(q->target) >= WEB_REQUEST_LINE_MAX ||
	    q->body_len != (q->has_length ? q->content_length : 0) ||
	    q->body_len > WEB_BODY_MAX || whole.nfields >
	    WEB_HEADER_FIELDS_MAX || whole.header_bytes > WEB_HEADER_BLOCK_MAX)
		abort();
	(void)web_form_get(q->target, strlen(q->target), "token", v,
	    sizeof(v));
	(void)web_form_is_one_click(q->content_type, q->body, q->body_len);
	return 0;
}
