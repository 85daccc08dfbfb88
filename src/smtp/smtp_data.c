/* smtp_data: the DATA/BDAT content reader. Owns the CRLF-strict state
 * machine (end of data, dot-unstuffing, bare CR/LF, NUL, line and size
 * limits) that defends against SMTP smuggling, and the replies for its
 * errors. Pure: no I/O.
 *
 * Semantics are defined byte by byte (the fuzzer checks this file against
 * a byte-at-a-time model); the code only goes faster: runs of ordinary
 * text are found with memchr() and output is appended as whole spans of
 * the input, broken only where a stuffing dot or the terminator is
 * dropped. */
#include "smtp_data.h"

#include <string.h>

/* Reader states (r->state). ST_BOL, ST_DOT and ST_DOT_CR exist in DOT mode
 * only; RAW mode lives in ST_TEXT and ST_CR. */
enum {
	ST_BOL = 0,	/* at the start of a line (DOT mode) */
	ST_DOT,		/* "." at line start, dropped: stuffing or end */
	ST_DOT_CR,	/* "." CR at line start: LF ends the data */
	ST_TEXT,	/* inside a line */
	ST_CR,		/* CR seen inside a line: LF must follow */
};

#define CRLF_LEN 2	/* a text line limit counts its CRLF */

void
smtp_data_init(struct smtp_data_reader *r, enum smtp_data_mode mode,
    uint64_t max_size, size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->max_size = max_size;
	r->max_line = max_line;
	r->state = mode == SMTP_DATA_DOT ? ST_BOL : ST_TEXT;
	r->error = SMTP_DATA_OK;
}

/* Content octets allowed on one line, CRLF excluded; 0 = no limit. */
static size_t
line_content_max(const struct smtp_data_reader *r)
{
	if (r->max_line == 0)
		return SIZE_MAX;
	return r->max_line > CRLF_LEN ? r->max_line - CRLF_LEN : 0;
}

/* The content size this feed may reach: max_size (0 = no limit), and no
 * more than out can still take, so that a full out fails at the same
 * byte however the input is split. */
static uint64_t
size_limit(const struct smtp_data_reader *r, const struct buf *out)
{
	uint64_t limit = r->max_size != 0 ? r->max_size : UINT64_MAX;
	uint64_t out_limit;
	size_t out_max = out->max != 0 ? out->max : SIZE_MAX;
	size_t room = out->len < out_max ? out_max - out->len : 0;

	if (!__builtin_add_overflow(r->size, (uint64_t)room, &out_limit) &&
	    out_limit < limit)
		limit = out_limit;
	return limit;
}

/* Length of the run of ordinary octets (not CR, LF or NUL) at p. */
static size_t
ordinary_run(const uint8_t *p, size_t n)
{
	const uint8_t *q;

	if ((q = memchr(p, '\r', n)) != NULL)
		n = (size_t)(q - p);
	if ((q = memchr(p, '\n', n)) != NULL)
		n = (size_t)(q - p);
	if ((q = memchr(p, '\0', n)) != NULL)
		n = (size_t)(q - p);
	return n;
}

static void
fail(struct smtp_data_reader *r, enum smtp_data_error e)
{
	if (r->error == SMTP_DATA_OK)
		r->error = e;
}

/* After an error: no output, no limits; only track CRLF "." CRLF so that
 * the caller stays in sync. Returns where consumption stopped. */
static const uint8_t *
skip_to_end(struct smtp_data_reader *r, const uint8_t *p,
    const uint8_t *end)
{
	const uint8_t *q;
	uint8_t c;

	if (r->mode == SMTP_DATA_RAW)
		return end;
	while (p < end) {
		if (r->state == ST_TEXT) {
			q = memchr(p, '\r', (size_t)(end - p));
			if (q == NULL)
				return end;
			p = q + 1;
			r->state = ST_CR;
			continue;
		}
		c = *p++;
		switch (r->state) {
		case ST_BOL:
			r->state = c == '.' ? ST_DOT :
			    c == '\r' ? ST_CR : ST_TEXT;
			break;
		case ST_DOT:
			r->state = c == '\r' ? ST_DOT_CR : ST_TEXT;
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				r->done = true;
				return p;
			}
			r->state = c == '\r' ? ST_CR : ST_TEXT;
			break;
		default: /* ST_CR */
			r->state = c == '\n' ? ST_BOL :
			    c == '\r' ? ST_CR : ST_TEXT;
			break;
		}
	}
	return p;
}

/*
 * RFC 5321 4.1.1.4: the mail data is terminated by a line containing only
 * a period, that is "<CRLF>.<CRLF>"; the first line of data counts as
 * following a CRLF. 4.5.2: a line starting with "." has that period
 * deleted. Only CR LF is a line end: a CR or LF on its own is an error.
 */
size_t
smtp_data_feed(struct smtp_data_reader *r, const uint8_t *in, size_t len,
    struct buf *out)
{
	const uint8_t *p = in, *end = in + len;
	const uint8_t *span = in;	/* start of output not yet appended */
	uint64_t limit;
	size_t line_max = line_content_max(r), n, line_room;

	if (r->done || len == 0)
		return 0;
	limit = size_limit(r, out);
	while (p < end) {
		if (r->error != SMTP_DATA_OK) {
			p = skip_to_end(r, p, end);
			break;
		}
		switch (r->state) {
		case ST_BOL:
			if (*p == '.') {
				/* Dropped: flush what came before it. */
				if (buf_append(out, span, (size_t)(p - span)) < 0)
					fail(r, SMTP_DATA_TOO_BIG);
				span = ++p;
				r->state = ST_DOT;
			} else {
				r->state = ST_TEXT;
			}
			continue;
		case ST_DOT:
			if (*p == '\r') {
				/* Maybe the terminator: withhold the CR. It is
				 * never output: LF ends the data, anything else
				 * makes it a bare CR. */
				span = ++p;
				r->state = ST_DOT_CR;
			} else {
				r->state = ST_TEXT;
			}
			continue;
		case ST_DOT_CR:
			if (*p == '\n') {
				r->done = true;
				span = ++p;
				goto flush;
			}
			fail(r, SMTP_DATA_BARE_CR);
			continue;
		case ST_CR:
			if (*p != '\n') {
				fail(r, SMTP_DATA_BARE_CR);
				continue;
			}
			if (r->size >= limit) {
				fail(r, SMTP_DATA_TOO_BIG);
				continue;
			}
			r->size++;
			p++;
			r->line_len = 0;
			r->state = r->mode == SMTP_DATA_DOT ? ST_BOL : ST_TEXT;
			continue;
		default: /* ST_TEXT */
			break;
		}

		/* ST_TEXT: take the run of ordinary octets that fits both
		 * limits in one step, then decide on the octet after it. */
		n = (size_t)(end - p);
		line_room = line_max - r->line_len;
		if (n > line_room)
			n = line_room;
		if ((uint64_t)n > limit - r->size)
			n = (size_t)(limit - r->size);
		n = ordinary_run(p, n);
		p += n;
		r->line_len += n;
		r->size += n;
		if (p == end)
			break;
		switch (*p) {
		case '\r':
			if (r->size >= limit) {
				fail(r, SMTP_DATA_TOO_BIG);
				break;
			}
			r->size++;
			p++;
			r->state = ST_CR;
			break;
		case '\n':
			fail(r, SMTP_DATA_BARE_LF);
			break;
		case '\0':
			fail(r, SMTP_DATA_NUL);
			break;
		default:
			/* An ordinary octet the run did not take. */
			fail(r, r->size >= limit ? SMTP_DATA_TOO_BIG :
			    SMTP_DATA_LINE_TOO_LONG);
			break;
		}
	}
flush:
	if (r->error == SMTP_DATA_OK && span < p &&
	    buf_append(out, span, (size_t)(p - span)) < 0)
		fail(r, SMTP_DATA_TOO_BIG);
	return (size_t)(p - in);
}

enum smtp_data_error
smtp_data_finish(struct smtp_data_reader *r)
{
	if (r->mode != SMTP_DATA_RAW || r->error != SMTP_DATA_OK)
		return r->error;
	if (r->state == ST_CR)
		fail(r, SMTP_DATA_BARE_CR);
	else if (r->line_len > 0)
		fail(r, SMTP_DATA_BARE_LF);	/* last line lacks CRLF */
	return r->error;
}

/* Codes: RFC 5321 4.2.2/4.3.2 (552 size, 550 content rejected), status
 * per RFC 3463 (5.3.4 message too big for system, 5.6.0 other media
 * error: the content itself is malformed). */
int
smtp_data_error_code(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_OK:
		return 250;
	case SMTP_DATA_TOO_BIG:
		return 552;
	case SMTP_DATA_BARE_CR:
	case SMTP_DATA_BARE_LF:
	case SMTP_DATA_LINE_TOO_LONG:
	case SMTP_DATA_NUL:
		return 550;
	}
	return 451;
}

const char *
smtp_data_error_text(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_OK:
		return "250 2.0.0 OK";
	case SMTP_DATA_BARE_CR:
		return "550 5.6.0 Bare CR in message data, lines must end "
		    "in CRLF";
	case SMTP_DATA_BARE_LF:
		return "550 5.6.0 Bare LF in message data, lines must end "
		    "in CRLF";
	case SMTP_DATA_LINE_TOO_LONG:
		return "550 5.6.0 Line too long in message data";
	case SMTP_DATA_TOO_BIG:
		return "552 5.3.4 Message size exceeds fixed maximum "
		    "message size";
	case SMTP_DATA_NUL:
		return "550 5.6.0 NUL octet in message data is not allowed";
	}
	return "451 4.3.0 Internal error";
}
