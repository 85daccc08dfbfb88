/* smtp_parser: turns one SMTP command line into a command and its
 * arguments: verb recognition, MAIL/RCPT parameter parsing (RFC 5321
 * 4.1.1, RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3030 BDAT),
 * and line framing over a byte buffer with the 512-octet limit
 * (RFC 5321 4.5.3.1.4). Pure: no I/O, no allocation. */
#ifndef MOAT_SMTP_PARSER_H
#define MOAT_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_addr.h"

#define SMTP_LINE_MAX 512	/* command line incl. CRLF, 4.5.3.1.4 */

enum smtp_cmd {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_BDAT,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_HELP,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_COUNT
};

/* Result of framing: */
enum smtp_line_result {
	SMTP_LINE_NEED_MORE = 0,	/* no CRLF yet, below the limit */
	SMTP_LINE_OK = 1,		/* a line ending in CRLF */
	SMTP_LINE_TOO_LONG = -1,	/* limit reached without CRLF; or a
					   CRLF-ended line longer than max */
	SMTP_LINE_BARE_LF = -2,		/* LF not preceded by CR */
};

/* Find the first command line in data[0..len). On SMTP_LINE_OK,
 * *linelen_r is the length without CRLF and *consumed_r includes CRLF.
 * On SMTP_LINE_TOO_LONG and SMTP_LINE_BARE_LF, *consumed_r is how much
 * input to discard: up to and including the next LF if there is one in
 * data, else all of len (the caller then keeps discarding until LF). max
 * is the limit including CRLF. */
enum smtp_line_result smtp_line_next(const uint8_t *data, size_t len,
    size_t max, size_t *linelen_r, size_t *consumed_r);

/* Take the next line out of in (SMTP, POP3: CRLF-ended text lines).
 * SMTP_LINE_OK: the line (without CRLF) is copied NUL-terminated to dst,
 * which must hold max octets, and consumed. SMTP_LINE_NEED_MORE: nothing
 * consumed. SMTP_LINE_TOO_LONG / SMTP_LINE_BARE_LF: the bad line is
 * consumed, and when its end has not arrived yet *discarding is set so
 * that later calls drop input through the next LF first (the caller
 * answers the error once). */
struct buf;
enum smtp_line_result smtp_line_take(struct buf *in, size_t max,
    bool *discarding, char *dst, size_t *len_r);

struct smtp_command {
	enum smtp_cmd	 cmd;
	const char	*args;	/* after the verb and separating space(s); ""
				   when none; points into the line */
	size_t		 argslen;
};

/* Split a line (no CRLF, may contain any bytes) into verb and arguments.
 * The verb is matched case-insensitively. A NUL byte anywhere, or a verb
 * not followed by SP or end of line, gives SMTP_CMD_UNKNOWN. Always
 * succeeds (unknown verbs are SMTP_CMD_UNKNOWN). */
void smtp_parse_command(const char *line, size_t len,
    struct smtp_command *cmd_r);
const char *smtp_cmd_name(enum smtp_cmd cmd);

/* lenient parsing switches, off by default */
#define SMTP_PARSE_WS_BEFORE_PATH 0x01	/* "MAIL FROM: <a@b>" */

enum smtp_body { SMTP_BODY_UNSPEC = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME };

struct smtp_mail_args {
	struct smtp_addr from;
	uint64_t	 size;		/* SIZE=, 0 if absent */
	bool		 has_size;
	enum smtp_body	 body;
	bool		 smtputf8;
};

/* Parse the arguments of MAIL: "FROM:<path> [SP params]". Unknown or
 * repeated parameters, malformed values, and SIZE over UINT64 fail.
 * Returns 0, or -1 with *code_r (501 syntax, 555 unknown parameter, 553
 * bad address) and *error_r = "5.5.4 Unknown MAIL parameter" style text
 * including the RFC 3463 code. smtputf8_ok: the server offers SMTPUTF8
 * (then a SMTPUTF8 parameter allows UTF-8 in the path). */
int smtp_parse_mail(const char *args, size_t len, unsigned flags,
    struct smtp_mail_args *m, int *code_r, const char **error_r);

struct smtp_rcpt_args {
	struct smtp_addr to;
	bool		 postmaster;	/* "<Postmaster>" with no domain */
};

/* Parse the arguments of RCPT: "TO:<path> [SP params]". No RCPT
 * parameters are supported yet, so any parameter fails with 555.
 * smtputf8: the transaction's MAIL carried SMTPUTF8. */
int smtp_parse_rcpt(const char *args, size_t len, unsigned flags,
    bool smtputf8, struct smtp_rcpt_args *r, int *code_r,
    const char **error_r);

/* Parse BDAT arguments: "chunk-size [SP LAST]" (RFC 3030 2). chunk-size is
 * 1*DIGIT up to UINT64 range. Returns 0 or -1 with *error_r. */
int smtp_parse_bdat(const char *args, size_t len, uint64_t *size_r,
    bool *last_r, const char **error_r);

#endif
