/* smtp_data: the DATA (and BDAT) content reader. A byte-at-a-time state
 * machine that finds the end of data (only CRLF "." CRLF, RFC 5321 4.1.1.4),
 * undoes dot-stuffing (4.5.2), counts size, enforces the text line limit,
 * and rejects any bare CR or bare LF (SMTP smuggling, CVE-2023-51764 class).
 * After an error it keeps consuming until the real end of data, producing
 * no more output, so the session stays in sync with the client. Pure: no
 * I/O; output goes to a bounded struct buf. */
#ifndef MOAT_SMTP_DATA_H
#define MOAT_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum smtp_data_mode {
	SMTP_DATA_DOT = 0,	/* DATA: ends at CRLF.CRLF, dot-unstuffing */
	SMTP_DATA_RAW,		/* BDAT chunk: no terminator, no stuffing */
};

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_BARE_CR,	/* CR not followed by LF */
	SMTP_DATA_BARE_LF,	/* LF not preceded by CR */
	SMTP_DATA_LINE_TOO_LONG,/* text line over max_line incl CRLF */
	SMTP_DATA_TOO_BIG,	/* more than max_size octets of content */
	SMTP_DATA_NUL,		/* NUL octet (not allowed in 8BITMIME) */
};

struct smtp_data_reader {
	enum smtp_data_mode mode;
	uint64_t	max_size;	/* content octets after unstuffing */
	size_t		max_line;	/* incl. CRLF */
	/* state, private: */
	int		state;
	size_t		line_len;
	uint64_t	size;		/* content octets so far */
	enum smtp_data_error error;	/* first error seen */
	bool		done;
};

/* max_size or max_line 0 means no limit. */
void smtp_data_init(struct smtp_data_reader *r, enum smtp_data_mode mode,
    uint64_t max_size, size_t max_line);

/* Feed input. Writes content (unstuffed, with CRLF line ends) to out
 * unless an error has been seen. Returns the number of input octets
 * consumed: in DOT mode it stops right after the terminating CRLF.CRLF
 * (r->done becomes true; the rest of in belongs to the next command); in
 * RAW mode it consumes everything. If out's own max is hit, that is
 * reported as SMTP_DATA_TOO_BIG. */
size_t smtp_data_feed(struct smtp_data_reader *r, const uint8_t *in,
    size_t len, struct buf *out);

/* RAW mode: call after the LAST chunk; a trailing CR with no LF or an
 * unterminated last line is checked here (a message must end in CRLF;
 * an empty message is fine). A dangling CR is SMTP_DATA_BARE_CR; a last
 * line without CRLF is SMTP_DATA_BARE_LF (its line end is not CRLF).
 * In DOT mode it only returns r->error. Returns r->error. */
enum smtp_data_error smtp_data_finish(struct smtp_data_reader *r);

/* Short reply for an error, with code and RFC 3463 status, e.g.
 * "550 5.6.0 Bare LF in message data ...". */
int smtp_data_error_code(enum smtp_data_error e);
const char *smtp_data_error_text(enum smtp_data_error e);

#endif
