/* smtp_parser: owns SMTP command line framing (the 512-octet limit of RFC
 * 5321 4.5.3.1.4, CRLF only), verb recognition, and the argument grammars
 * of MAIL (RFC 5321 4.1.1.2 with SIZE, BODY and SMTPUTF8), RCPT
 * (4.1.1.3) and BDAT (RFC 3030 2). Addresses are left to smtp_addr. Pure:
 * no I/O, no allocation; results point into the caller's line. */
#include "smtp_parser.h"

#include "buf.h"

#include <string.h>

#include "smtp_addr.h"
#include "util.h"

#define SMTP_VERB_MAX 8		/* longest verb we know: "STARTTLS" */
#define SMTP_SIZE_DIGITS_MAX 20	/* size-value ::= 1*20DIGIT, RFC 1870 */
#define MAIL_FROM "FROM:"
#define MAIL_FROM_LEN (sizeof(MAIL_FROM) - 1)
#define RCPT_TO "TO:"
#define RCPT_TO_LEN (sizeof(RCPT_TO) - 1)
#define BDAT_LAST "LAST"
#define BDAT_LAST_LEN (sizeof(BDAT_LAST) - 1)

/* reply codes for *code_r */
#define SMTP_CODE_SYNTAX 501		/* syntax error in parameters */
#define SMTP_CODE_NOT_ASCII 550		/* RFC 6531 3.5, MAIL */
#define SMTP_CODE_BAD_MAILBOX 553	/* mailbox name not allowed */
#define SMTP_CODE_BAD_PARAM 555		/* MAIL/RCPT parameter unknown */

static const char *const cmd_names[SMTP_CMD_COUNT] = {
	[SMTP_CMD_UNKNOWN] = "UNKNOWN",
	[SMTP_CMD_HELO] = "HELO",
	[SMTP_CMD_EHLO] = "EHLO",
	[SMTP_CMD_MAIL] = "MAIL",
	[SMTP_CMD_RCPT] = "RCPT",
	[SMTP_CMD_DATA] = "DATA",
	[SMTP_CMD_BDAT] = "BDAT",
	[SMTP_CMD_RSET] = "RSET",
	[SMTP_CMD_NOOP] = "NOOP",
	[SMTP_CMD_QUIT] = "QUIT",
	[SMTP_CMD_HELP] = "HELP",
	[SMTP_CMD_VRFY] = "VRFY",
	[SMTP_CMD_EXPN] = "EXPN",
	[SMTP_CMD_STARTTLS] = "STARTTLS",
	[SMTP_CMD_AUTH] = "AUTH",
};

/* One esmtp-param, as slices into the line. */
struct esmtp_param {
	const char	*kw;
	size_t		 kwlen;
	const char	*val;	/* NULL when there is no "=" */
	size_t		 vallen;
};

static inline bool
is_let_dig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* True if s[0..n) equals the NUL-terminated word, ASCII case-folded. */
static bool
slice_ieq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && ascii_nieq(s, word, n);
}

/*
 * Command lines end in CRLF (4.1.1) and hold at most max octets including
 * the CRLF (4.5.3.1.4). An LF without CR before it is refused (bare LF).
 */
enum smtp_line_result
smtp_line_next(const uint8_t *data, size_t len, size_t max,
    size_t *linelen_r, size_t *consumed_r)
{
	const uint8_t *lf = len > 0 ? memchr(data, '\n', len) : NULL;
	size_t end;

	*linelen_r = 0;
	if (lf == NULL) {
		*consumed_r = len >= max ? len : 0;
		return len >= max ? SMTP_LINE_TOO_LONG : SMTP_LINE_NEED_MORE;
	}
	end = (size_t)(lf - data) + 1;	/* UNSAFE: lf is inside data */
	*consumed_r = end;
	if (end > max)
		return SMTP_LINE_TOO_LONG;
	if (end < 2 || data[end - 2] != '\r')
		return SMTP_LINE_BARE_LF;
	*linelen_r = end - 2;
	return SMTP_LINE_OK;
}

const char *
smtp_cmd_name(enum smtp_cmd cmd)
{
	if ((unsigned)cmd >= SMTP_CMD_COUNT)
		return cmd_names[SMTP_CMD_UNKNOWN];
	return cmd_names[cmd];
}

/*
 * command = verb [ SP *SP arguments ]
 * verb    = one of the names in cmd_names, case-insensitive
 */
void
smtp_parse_command(const char *line, size_t len, struct smtp_command *cmd_r)
{
	size_t vlen, pos;
	int i;

	cmd_r->cmd = SMTP_CMD_UNKNOWN;
	cmd_r->args = "";
	cmd_r->argslen = 0;
	if (len == 0 || memchr(line, '\0', len) != NULL)
		return;
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		if (vlen >= SMTP_VERB_MAX)
			return;
	for (i = SMTP_CMD_UNKNOWN + 1; i < SMTP_CMD_COUNT; i++)
		if (slice_ieq(line, vlen, cmd_names[i]))
			break;
	if (i == SMTP_CMD_COUNT)
		return;
	cmd_r->cmd = (enum smtp_cmd)i;
	for (pos = vlen; pos < len && line[pos] == ' '; pos++)
		;
	if (pos < len) {
		cmd_r->args = line + pos;
		cmd_r->argslen = len - pos;
	}
}

/*
 * esmtp-param   = esmtp-keyword ["=" esmtp-value]
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value   = 1*(%d33-60 / %d62-126)
 * esmtp-value   =/ UTF8-non-ascii              ; RFC 6531 3.3
 *
 * Parses one param at s[*pos] up to SP or the end. Non-ASCII octets in a
 * value are accepted here without UTF-8 validation: no parameter we know
 * takes them, so such a value only ever reaches the "unknown" path.
 */
static int
split_param(const char *s, size_t len, size_t *pos, struct esmtp_param *p)
{
	size_t i = *pos;

	p->kw = s + i;
	p->val = NULL;
	p->vallen = 0;
	if (i >= len || !is_let_dig((unsigned char)s[i]))
		return -1;
	while (i < len && (is_let_dig((unsigned char)s[i]) || s[i] == '-'))
		i++;
	p->kwlen = (size_t)(s + i - p->kw);
	if (i < len && s[i] == '=') {
		i++;
		p->val = s + i;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];

			if (c == ' ')
				break;
			if (c < 33 || c == '=' || c == 127)
				return -1;
			i++;
		}
		p->vallen = (size_t)(s + i - p->val);
		if (p->vallen == 0)
			return -1;
	}
	if (i < len && s[i] != ' ')
		return -1;
	*pos = i;
	return 0;
}

/*
 * size-value ::= 1*20DIGIT   (RFC 1870 6), and it must fit in uint64_t.
 * Also used for chunk-size = 1*DIGIT (RFC 3030 2) with maxdigits = 0
 * (no digit limit beyond the range).
 */
static int
parse_digits(const char *s, size_t n, size_t maxdigits, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || (maxdigits > 0 && n > maxdigits))
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -1;
	}
	*v_r = v;
	return 0;
}

static int
fail(int code, const char *error, int *code_r, const char **error_r)
{
	*code_r = code;
	*error_r = error;
	return -1;
}

/*
 * One MAIL parameter:
 *   SIZE=size-value                  RFC 1870
 *   BODY=7BIT / 8BITMIME / BINARYMIME   RFC 6152, RFC 3030 (values
 *                                       case-insensitive)
 *   SMTPUTF8                         RFC 6531 3.4, takes no value
 * Whether the server offers the extension is the session's concern.
 */
static int
mail_param(const struct esmtp_param *p, struct smtp_mail_args *m,
    bool *seen_body, int *code_r, const char **error_r)
{
	if (slice_ieq(p->kw, p->kwlen, "SIZE")) {
		if (m->has_size)
			return fail(SMTP_CODE_BAD_PARAM,
			    "5.5.4 Duplicate MAIL parameter", code_r, error_r);
		if (p->val == NULL || parse_digits(p->val, p->vallen,
		    SMTP_SIZE_DIGITS_MAX, &m->size) < 0)
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Invalid SIZE parameter", code_r, error_r);
		m->has_size = true;
	} else if (slice_ieq(p->kw, p->kwlen, "BODY")) {
		if (*seen_body)
			return fail(SMTP_CODE_BAD_PARAM,
			    "5.5.4 Duplicate MAIL parameter", code_r, error_r);
		*seen_body = true;
		if (p->val == NULL)
			m->body = SMTP_BODY_UNSPEC;
		else if (slice_ieq(p->val, p->vallen, "7BIT"))
			m->body = SMTP_BODY_7BIT;
		else if (slice_ieq(p->val, p->vallen, "8BITMIME"))
			m->body = SMTP_BODY_8BITMIME;
		else if (slice_ieq(p->val, p->vallen, "BINARYMIME"))
			m->body = SMTP_BODY_BINARYMIME;
		if (m->body == SMTP_BODY_UNSPEC)
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Invalid BODY parameter", code_r, error_r);
	} else if (slice_ieq(p->kw, p->kwlen, "SMTPUTF8")) {
		if (m->smtputf8)
			return fail(SMTP_CODE_BAD_PARAM,
			    "5.5.4 Duplicate MAIL parameter", code_r, error_r);
		if (p->val != NULL)
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 SMTPUTF8 takes no value", code_r, error_r);
		m->smtputf8 = true;
	} else
		return fail(SMTP_CODE_BAD_PARAM,
		    "5.5.4 Unknown MAIL parameter", code_r, error_r);
	return 0;
}

/* Skip the "FROM:" / "TO:" keyword and, only with
 * SMTP_PARSE_WS_BEFORE_PATH, spaces before the path. Returns the offset
 * of "<", or -1. */
static int
path_start(const char *args, size_t len, const char *kw, size_t kwlen,
    unsigned flags, size_t *pos_r)
{
	size_t pos = kwlen;

	if (len < kwlen || !ascii_nieq(args, kw, kwlen))
		return -1;
	if ((flags & SMTP_PARSE_WS_BEFORE_PATH) != 0)
		while (pos < len && args[pos] == ' ')
			pos++;
	if (pos >= len || args[pos] != '<')
		return -1;
	*pos_r = pos;
	return 0;
}

/*
 * mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
 * Mail-parameters = esmtp-param *(SP esmtp-param)
 *
 * args is what follows "MAIL SP". The path may hold UTF-8 only if the
 * SMTPUTF8 parameter is present (RFC 6531 3.4); otherwise 550 5.6.7.
 */
int
smtp_parse_mail(const char *args, size_t len, unsigned flags,
    struct smtp_mail_args *m, int *code_r, const char **error_r)
{
	struct esmtp_param p;
	size_t pos, used;
	bool seen_body = false;

	memset(m, 0, sizeof(*m));
	*code_r = 0;
	if (path_start(args, len, MAIL_FROM, MAIL_FROM_LEN, flags, &pos) < 0)
		return fail(SMTP_CODE_SYNTAX,
		    "5.5.4 Syntax: MAIL FROM:<address>", code_r, error_r);
	if (smtp_addr_parse_path(args + pos, len - pos,
	    SMTP_ADDR_ALLOW_EMPTY | SMTP_ADDR_UTF8, &m->from, &used,
	    error_r) < 0) {
		*code_r = SMTP_CODE_BAD_MAILBOX;
		return -1;
	}
	pos += used;
	while (pos < len) {
		if (args[pos] != ' ')
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Syntax error in MAIL parameters",
			    code_r, error_r);
		pos++;
		if (split_param(args, len, &pos, &p) < 0)
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Syntax error in MAIL parameters",
			    code_r, error_r);
		if (mail_param(&p, m, &seen_body, code_r, error_r) < 0)
			return -1;
	}
	if (m->from.utf8 && !m->smtputf8)
		return fail(SMTP_CODE_NOT_ASCII,
		    "5.6.7 Non-ASCII sender address requires SMTPUTF8",
		    code_r, error_r);
	return 0;
}

/*
 * rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
 *        Forward-path ) [SP Rcpt-parameters] CRLF
 * Rcpt-parameters = esmtp-param *(SP esmtp-param)
 *
 * No RCPT parameter is supported: a well-formed one gets 555.
 */
int
smtp_parse_rcpt(const char *args, size_t len, unsigned flags,
    bool smtputf8, struct smtp_rcpt_args *r, int *code_r,
    const char **error_r)
{
	struct esmtp_param p;
	unsigned aflags = SMTP_ADDR_POSTMASTER;
	size_t pos, used;

	memset(r, 0, sizeof(*r));
	*code_r = 0;
	if (smtputf8)
		aflags |= SMTP_ADDR_UTF8;
	if (path_start(args, len, RCPT_TO, RCPT_TO_LEN, flags, &pos) < 0)
		return fail(SMTP_CODE_SYNTAX,
		    "5.5.4 Syntax: RCPT TO:<address>", code_r, error_r);
	if (smtp_addr_parse_path(args + pos, len - pos, aflags, &r->to,
	    &used, error_r) < 0) {
		*code_r = SMTP_CODE_BAD_MAILBOX;
		return -1;
	}
	pos += used;
	if (pos < len) {
		if (args[pos] != ' ')
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Syntax error in RCPT parameters",
			    code_r, error_r);
		pos++;
		if (split_param(args, len, &pos, &p) < 0)
			return fail(SMTP_CODE_SYNTAX,
			    "5.5.4 Syntax error in RCPT parameters",
			    code_r, error_r);
		return fail(SMTP_CODE_BAD_PARAM,
		    "5.5.4 Unknown RCPT parameter", code_r, error_r);
	}
	r->postmaster = !r->to.null && r->to.domain[0] == '\0';
	return 0;
}

/*
 * bdat-cmd   ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF
 * chunk-size ::= 1*DIGIT
 * end-marker ::= "LAST"          (case-insensitive)
 */
int
smtp_parse_bdat(const char *args, size_t len, uint64_t *size_r,
    bool *last_r, const char **error_r)
{
	size_t n;

	*size_r = 0;
	*last_r = false;
	for (n = 0; n < len && args[n] != ' '; n++)
		;
	if (n == 0 || parse_digits(args, n, 0, size_r) < 0) {
		*size_r = 0;
		*error_r = "5.5.4 Syntax: BDAT chunk-size [LAST]";
		return -1;
	}
	if (n == len)
		return 0;
	if (!slice_ieq(args + n + 1, len - n - 1, BDAT_LAST)) {
		*size_r = 0;
		*error_r = "5.5.4 Syntax: BDAT chunk-size [LAST]";
		return -1;
	}
	*last_r = true;
	return 0;
}

enum smtp_line_result
smtp_line_take(struct buf *in, size_t max, bool *discarding, char *dst,
    size_t *len_r)
{
	enum smtp_line_result r;
	size_t linelen = 0, consumed = 0;

	while (*discarding) {
		uint8_t *lf = memchr(in->data, '\n', in->len);

		if (lf == NULL) {
			buf_reset(in);
			return SMTP_LINE_NEED_MORE;
		}
		buf_consume(in, (size_t)(lf - in->data) + 1);
		*discarding = false;
	}
	if (in->len == 0)
		return SMTP_LINE_NEED_MORE;
	r = smtp_line_next(in->data, in->len, max, &linelen, &consumed);
	if (r == SMTP_LINE_NEED_MORE)
		return r;
	if (r != SMTP_LINE_OK) {
		/* The rest of the bad line is still to come: skip it. */
		if (consumed >= in->len &&
		    memchr(in->data, '\n', in->len) == NULL)
			*discarding = true;
		buf_consume(in, consumed);
		return r;
	}
	/* UNSAFE: linelen + 2 <= max by smtp_line_next's contract. */
	memcpy(dst, in->data, linelen);
	dst[linelen] = '\0';
	*len_r = linelen;
	buf_consume(in, consumed);
	return r;
}
