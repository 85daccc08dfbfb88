/* smtp_addr: owns the RFC 5321 4.1.2 path grammar (Path, A-d-l, Mailbox,
 * Local-part, Domain, address literals of 4.1.3) with the RFC 6531 3.3
 * UTF-8 extensions, the 4.5.3.1 size limits, and the canonical form of a
 * parsed address. Pure: no I/O, no allocation; input is a byte slice.
 *
 * Error texts carry an RFC 3463 code. The path is a sender's when the
 * caller allows the null path (SMTP_ADDR_ALLOW_EMPTY, i.e. a
 * reverse-path): those errors use X.1.7 (bad sender mailbox syntax), all
 * others X.1.3 (bad destination mailbox syntax). */
#include "smtp_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define ADDR_LABEL_MAX 63	/* ASCII DNS label octets, RFC 1035 2.3.4 */
#define ADDR_IPV6_TEXT_MAX 45	/* longest IPv6-addr text (IPv6v4-full) */
#define ADDR_IPV4_SNUM_DIGITS 3	/* Snum = 1*3DIGIT, RFC 5321 4.1.3 */
#define ADDR_IPV4_SNUM_MAX 255
#define ADDR_IPV4_PARTS 4
#define ADDR_IPV6_TAG "IPv6"
#define ADDR_IPV6_TAG_LEN (sizeof(ADDR_IPV6_TAG) - 1)
#define ADDR_POSTMASTER "Postmaster"
#define ADDR_POSTMASTER_LEN (sizeof(ADDR_POSTMASTER) - 1)

enum addr_err {
	ADDR_ERR_SYNTAX = 0,
	ADDR_ERR_QUOTE,
	ADDR_ERR_LOCAL_LONG,
	ADDR_ERR_DOMAIN,
	ADDR_ERR_DOMAIN_LONG,
	ADDR_ERR_LITERAL,
	ADDR_ERR_PATH_LONG,
	ADDR_ERR_NULL,
	ADDR_ERR_BAD_UTF8,
	ADDR_ERR_NEED_UTF8,
	ADDR_ERR_COUNT
};

/* [err][0] for a forward-path, [err][1] for a reverse-path. */
static const char *const addr_errors[ADDR_ERR_COUNT][2] = {
	[ADDR_ERR_SYNTAX] = { "5.1.3 Bad recipient address syntax",
	    "5.1.7 Bad sender address syntax" },
	[ADDR_ERR_QUOTE] = { "5.1.3 Bad quoted local part in recipient address",
	    "5.1.7 Bad quoted local part in sender address" },
	[ADDR_ERR_LOCAL_LONG] = { "5.1.3 Recipient local part too long",
	    "5.1.7 Sender local part too long" },
	[ADDR_ERR_DOMAIN] = { "5.1.3 Bad recipient domain syntax",
	    "5.1.7 Bad sender domain syntax" },
	[ADDR_ERR_DOMAIN_LONG] = { "5.1.3 Recipient domain too long",
	    "5.1.7 Sender domain too long" },
	[ADDR_ERR_LITERAL] = { "5.1.3 Bad address literal in recipient",
	    "5.1.7 Bad address literal in sender" },
	[ADDR_ERR_PATH_LONG] = { "5.1.3 Recipient path too long",
	    "5.1.7 Sender path too long" },
	[ADDR_ERR_NULL] = { "5.1.3 Null recipient address not allowed",
	    "5.1.7 Null sender address not allowed" },
	[ADDR_ERR_BAD_UTF8] = { "5.1.3 Invalid UTF-8 in recipient address",
	    "5.1.7 Invalid UTF-8 in sender address" },
	[ADDR_ERR_NEED_UTF8] = {
	    "5.6.7 Non-ASCII addresses not permitted for that recipient",
	    "5.6.7 Non-ASCII addresses not permitted for that sender" },
};

/* A parse in progress over s[0..len). */
struct addr_cur {
	const uint8_t	*s;
	size_t		 len;
	size_t		 pos;
	bool		 utf8_ok;	/* RFC 6531 UTF-8 allowed */
	bool		 utf8_seen;	/* a non-ASCII octet was accepted */
	enum addr_err	 err;
};

static inline bool
is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_let_dig(uint8_t c)
{
	return is_alpha(c) || is_digit(c);
}

/* atext, RFC 5322 3.2.3 (ASCII part). */
static inline bool
is_atext(uint8_t c)
{
	if (is_let_dig(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* qtextSMTP = %d32-33 / %d35-91 / %d93-126 */
static inline bool
is_qtext(uint8_t c)
{
	return c == 32 || c == 33 || (c >= 35 && c <= 91) ||
	    (c >= 93 && c <= 126);
}

/* dcontent = %d33-90 / %d94-126 */
static inline bool
is_dcontent(uint8_t c)
{
	return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

static inline char
lower(uint8_t c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* Length of the well-formed UTF-8 sequence (RFC 3629 4) for a non-ASCII
 * character at p[0..n), or 0 if it is not one: overlong forms, surrogates
 * and code points above U+10FFFF are refused.
 *
 *   UTF8-non-ascii = UTF8-2 / UTF8-3 / UTF8-4      (RFC 6532 3.1)
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 *   UTF8-tail = %x80-BF */
static size_t
utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (n == 0 || p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	if (p[0] <= 0xdf)
		need = 2;
	else if (p[0] <= 0xef)
		need = 3;
	else
		need = 4;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < need || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

static inline bool
cur_more(const struct addr_cur *c)
{
	return c->pos < c->len;
}

static inline uint8_t
cur_peek(const struct addr_cur *c)
{
	return c->pos < c->len ? c->s[c->pos] : 0;
}

static int
cur_fail(struct addr_cur *c, enum addr_err err)
{
	c->err = err;
	return -1;
}

/* At a non-ASCII octet: accept one UTF8-non-ascii character if UTF-8 is
 * allowed. Returns its length, or 0 with c->err set. */
static size_t
cur_utf8(struct addr_cur *c)
{
	size_t n = utf8_seq_len(c->s + c->pos, c->len - c->pos);

	if (n == 0) {
		c->err = ADDR_ERR_BAD_UTF8;
		return 0;
	}
	if (!c->utf8_ok) {
		c->err = ADDR_ERR_NEED_UTF8;
		return 0;
	}
	c->utf8_seen = true;
	return n;
}

/*
 * Domain     = sub-domain *("." sub-domain)
 * sub-domain = Let-dig [Ldh-str]
 * sub-domain =/ U-label                        ; RFC 6531 3.3
 * Let-dig    = ALPHA / DIGIT
 * Ldh-str    = *( ALPHA / DIGIT / "-" ) Let-dig
 *
 * Parses a Domain at c->pos and stops at the first octet that cannot
 * continue it. A U-label is checked only for UTF-8 well-formedness and the
 * LDH rules on its ASCII octets (no IDNA tables). ASCII labels are limited
 * to ADDR_LABEL_MAX octets, the whole to SMTP_DOMAIN_MAX.
 */
static int
parse_domain(struct addr_cur *c)
{
	size_t start = c->pos;

	for (;;) {
		size_t lstart = c->pos;
		bool ascii = true, last_hyphen = false;

		while (cur_more(c)) {
			uint8_t ch = cur_peek(c);

			if (is_let_dig(ch)) {
				c->pos++;
				last_hyphen = false;
			} else if (ch == '-' && c->pos > lstart) {
				c->pos++;
				last_hyphen = true;
			} else if (ch >= 0x80) {
				size_t n = cur_utf8(c);

				if (n == 0)
					return -1;
				c->pos += n;
				ascii = false;
				last_hyphen = false;
			} else
				break;
			if (c->pos - start > SMTP_DOMAIN_MAX)
				return cur_fail(c, ADDR_ERR_DOMAIN_LONG);
		}
		if (c->pos == lstart || last_hyphen)
			return cur_fail(c, ADDR_ERR_DOMAIN);
		if (ascii && c->pos - lstart > ADDR_LABEL_MAX)
			return cur_fail(c, ADDR_ERR_DOMAIN);
		if (cur_peek(c) != '.' || !cur_more(c))
			return 0;
		c->pos++;	/* "." : another sub-domain must follow */
	}
}

/*
 * IPv4-address-literal = Snum 3("." Snum)
 * Snum = 1*3DIGIT  ; representing a decimal integer 0 through 255
 */
static bool
valid_ipv4(const uint8_t *p, size_t n)
{
	size_t i = 0, part;

	for (part = 0; part < ADDR_IPV4_PARTS; part++) {
		unsigned v = 0;
		size_t digits = 0;

		if (part > 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
		while (i < n && is_digit(p[i])) {
			if (++digits > ADDR_IPV4_SNUM_DIGITS)
				return false;
			v = v * 10 + (unsigned)(p[i] - '0');
			i++;
		}
		if (digits == 0 || v > ADDR_IPV4_SNUM_MAX)
			return false;
	}
	return i == n;
}

/* IPv6-addr per RFC 5321 4.1.3 (IPv6-full / IPv6-comp / IPv6v4-full /
 * IPv6v4-comp), checked with inet_pton() on a bounded copy. */
static bool
valid_ipv6(const uint8_t *p, size_t n)
{
	char text[ADDR_IPV6_TEXT_MAX + 1];
	struct in6_addr in6;

	if (n == 0 || n > ADDR_IPV6_TEXT_MAX)
		return false;
	memcpy(text, p, n);	/* UNSAFE: n <= ADDR_IPV6_TEXT_MAX checked */
	text[n] = '\0';
	return inet_pton(AF_INET6, text, &in6) == 1;
}

/* Standardized-tag = Ldh-str   (a leading hyphen is allowed by the ABNF) */
static bool
valid_ldh_str(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0 || !is_let_dig(p[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!is_let_dig(p[i]) && p[i] != '-')
			return false;
	return true;
}

/*
 * address-literal  = "[" ( IPv4-address-literal /
 *                    IPv6-address-literal /
 *                    General-address-literal ) "]"
 * IPv6-address-literal    = "IPv6:" IPv6-addr
 * General-address-literal = Standardized-tag ":" 1*dcontent
 * dcontent = %d33-90 / %d94-126
 *
 * c->pos is at "[". A tag of "IPv6" (case-insensitive) must be followed by
 * a valid IPv6 address; other tags are accepted as general literals.
 */
static int
parse_literal(struct addr_cur *c)
{
	size_t start = c->pos, cstart, clen, colon;
	const uint8_t *content;

	c->pos++;	/* "[" */
	cstart = c->pos;
	while (cur_more(c) && is_dcontent(cur_peek(c))) {
		c->pos++;
		if (c->pos - start > SMTP_DOMAIN_MAX)
			return cur_fail(c, ADDR_ERR_DOMAIN_LONG);
	}
	if (cur_peek(c) != ']' || !cur_more(c))
		return cur_fail(c, ADDR_ERR_LITERAL);
	content = c->s + cstart;
	clen = c->pos - cstart;
	c->pos++;	/* "]" */
	if (c->pos - start > SMTP_DOMAIN_MAX)
		return cur_fail(c, ADDR_ERR_DOMAIN_LONG);

	if (valid_ipv4(content, clen))
		return 0;
	for (colon = 0; colon < clen && content[colon] != ':'; colon++)
		;
	if (colon == clen || !valid_ldh_str(content, colon))
		return cur_fail(c, ADDR_ERR_LITERAL);
	if (colon == ADDR_IPV6_TAG_LEN &&
	    ascii_nieq((const char *)content, ADDR_IPV6_TAG, colon)) {
		if (!valid_ipv6(content + colon + 1, clen - colon - 1))
			return cur_fail(c, ADDR_ERR_LITERAL);
		return 0;
	}
	if (colon + 1 == clen)	/* 1*dcontent after the tag */
		return cur_fail(c, ADDR_ERR_LITERAL);
	return 0;
}

/*
 * Dot-string = Atom *("." Atom)
 * Atom       = 1*atext
 * atext      =/ UTF8-non-ascii                 ; RFC 6531 3.3
 *
 * True if p[0..n) is a Dot-string (UTF-8 already validated by the caller
 * when it comes from a quoted string).
 */
static bool
is_dot_string(const uint8_t *p, size_t n)
{
	size_t i;
	bool atom_empty = true;

	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (atom_empty)
				return false;
			atom_empty = true;
		} else if (is_atext(p[i]) || p[i] >= 0x80)
			atom_empty = false;
		else
			return false;
	}
	return !atom_empty;
}

/*
 * Local-part    = Dot-string / Quoted-string
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE
 * QcontentSMTP  = qtextSMTP / quoted-pairSMTP
 * quoted-pairSMTP = %d92 %d32-126
 * qtextSMTP     = %d32-33 / %d35-91 / %d93-126
 * qtextSMTP     =/ UTF8-non-ascii              ; RFC 6531 3.3
 *
 * Stops at the first octet that cannot continue the local part. The whole
 * Local-part as received (quotes included) is limited to SMTP_LOCAL_MAX.
 */
static int
parse_local(struct addr_cur *c)
{
	size_t start = c->pos;

	if (cur_peek(c) == '"' && cur_more(c)) {
		c->pos++;
		for (;;) {
			uint8_t ch;

			if (c->pos - start >= SMTP_LOCAL_MAX)
				return cur_fail(c, ADDR_ERR_LOCAL_LONG);
			if (!cur_more(c))
				return cur_fail(c, ADDR_ERR_QUOTE);
			ch = cur_peek(c);
			if (ch == '"') {
				c->pos++;
				return 0;
			} else if (ch == '\\') {
				c->pos++;
				if (!cur_more(c) || cur_peek(c) < 32 ||
				    cur_peek(c) > 126)
					return cur_fail(c, ADDR_ERR_QUOTE);
				c->pos++;
			} else if (is_qtext(ch))
				c->pos++;
			else if (ch >= 0x80) {
				size_t n = cur_utf8(c);

				if (n == 0)
					return -1;
				c->pos += n;
			} else
				return cur_fail(c, ADDR_ERR_QUOTE);
		}
	}

	for (;;) {
		size_t astart = c->pos;

		while (cur_more(c)) {
			uint8_t ch = cur_peek(c);

			if (is_atext(ch))
				c->pos++;
			else if (ch >= 0x80) {
				size_t n = cur_utf8(c);

				if (n == 0)
					return -1;
				c->pos += n;
			} else
				break;
			if (c->pos - start > SMTP_LOCAL_MAX)
				return cur_fail(c, ADDR_ERR_LOCAL_LONG);
		}
		if (c->pos == astart)
			return cur_fail(c, ADDR_ERR_SYNTAX);
		if (cur_peek(c) != '.' || !cur_more(c))
			return 0;
		c->pos++;
	}
}

/* Store the local part s[start..end) in canonical form. */
static void
store_local(struct smtp_addr *a, const uint8_t *s, size_t start, size_t end)
{
	size_t n = end - start;

	/* UNSAFE: parse_local() bounds n by SMTP_LOCAL_MAX, and
	 * sizeof(a->local) is SMTP_LOCAL_MAX + 3. */
	if (s[start] == '"' && is_dot_string(s + start + 1, n - 2)) {
		memcpy(a->local, s + start + 1, n - 2);
		a->local[n - 2] = '\0';
		a->quoted = false;
	} else {
		memcpy(a->local, s + start, n);
		a->local[n] = '\0';
		a->quoted = s[start] == '"';
	}
}

/* Store the domain s[start..end) lower-cased (ASCII letters only). */
static void
store_domain(struct smtp_addr *a, const uint8_t *s, size_t start, size_t end)
{
	size_t i, n = end - start;

	/* UNSAFE: parse_domain()/parse_literal() bound n by SMTP_DOMAIN_MAX,
	 * and sizeof(a->domain) is SMTP_DOMAIN_MAX + 1. */
	for (i = 0; i < n; i++)
		a->domain[i] = lower(s[start + i]);
	a->domain[n] = '\0';
}

/* True if the path at c->pos is "Postmaster>" (case-insensitive). */
static bool
at_postmaster(const struct addr_cur *c)
{
	return c->len - c->pos > ADDR_POSTMASTER_LEN &&
	    ascii_nieq((const char *)c->s + c->pos, ADDR_POSTMASTER,
	    ADDR_POSTMASTER_LEN) &&
	    c->s[c->pos + ADDR_POSTMASTER_LEN] == '>';
}

/*
 * Reverse-path = Path / "<>"
 * Forward-path = Path
 * Path         = "<" [ A-d-l ":" ] Mailbox ">"
 * A-d-l        = At-domain *( "," At-domain )
 *              ; Note that this form, the so-called "source
 *              ; route", MUST BE accepted, SHOULD NOT be
 *              ; generated, and SHOULD be ignored.
 * At-domain    = "@" Domain
 * Mailbox      = Local-part "@" ( Domain / address-literal )
 * and, for RCPT (4.1.1.3), "<Postmaster>" (case-insensitive).
 *
 * The whole path, "<" and ">" included, is limited to SMTP_PATH_MAX.
 */
int
smtp_addr_parse_path(const char *s, size_t len, unsigned flags,
    struct smtp_addr *a, size_t *consumed_r, const char **error_r)
{
	struct addr_cur c = {
		.s = (const uint8_t *)s,
		.len = len,
		.utf8_ok = (flags & SMTP_ADDR_UTF8) != 0,
	};
	int sender = (flags & SMTP_ADDR_ALLOW_EMPTY) != 0;
	size_t lstart, lend, dstart;
	int ret = -1;

	memset(a, 0, sizeof(*a));
	if (cur_peek(&c) != '<' || !cur_more(&c)) {
		c.err = ADDR_ERR_SYNTAX;
		goto out;
	}
	c.pos++;

	if (cur_more(&c) && cur_peek(&c) == '>') {
		if (!sender) {
			c.err = ADDR_ERR_NULL;
			goto out;
		}
		a->null = true;
		*consumed_r = c.pos + 1;
		return 0;
	}

	if ((flags & SMTP_ADDR_POSTMASTER) != 0 && at_postmaster(&c)) {
		memcpy(a->local, c.s + c.pos, ADDR_POSTMASTER_LEN);
		a->local[ADDR_POSTMASTER_LEN] = '\0';
		*consumed_r = c.pos + ADDR_POSTMASTER_LEN + 1;
		return 0;
	}

	/* source route: parsed for syntax, then ignored (3.6.1) */
	if (cur_more(&c) && cur_peek(&c) == '@') {
		for (;;) {
			c.pos++;	/* "@" */
			if (parse_domain(&c) < 0)
				goto out;
			if (c.pos > SMTP_PATH_MAX) {
				c.err = ADDR_ERR_PATH_LONG;
				goto out;
			}
			if (cur_more(&c) && cur_peek(&c) == ',') {
				c.pos++;
				if (cur_peek(&c) != '@' || !cur_more(&c)) {
					c.err = ADDR_ERR_SYNTAX;
					goto out;
				}
				continue;
			}
			if (cur_more(&c) && cur_peek(&c) == ':') {
				c.pos++;
				break;
			}
			c.err = ADDR_ERR_SYNTAX;
			goto out;
		}
		/* the route's UTF-8 does not make the mailbox UTF-8 */
		c.utf8_seen = false;
	}

	lstart = c.pos;
	if (parse_local(&c) < 0)
		goto out;
	lend = c.pos;
	if (cur_peek(&c) != '@' || !cur_more(&c)) {
		c.err = ADDR_ERR_SYNTAX;
		goto out;
	}
	c.pos++;
	dstart = c.pos;
	if (cur_more(&c) && cur_peek(&c) == '[') {
		if (parse_literal(&c) < 0)
			goto out;
		a->literal = true;
	} else if (parse_domain(&c) < 0)
		goto out;
	if (cur_peek(&c) != '>' || !cur_more(&c)) {
		c.err = ADDR_ERR_SYNTAX;
		goto out;
	}
	c.pos++;
	if (c.pos > SMTP_PATH_MAX) {
		c.err = ADDR_ERR_PATH_LONG;
		goto out;
	}

	store_local(a, c.s, lstart, lend);
	store_domain(a, c.s, dstart, c.pos - 1);
	a->utf8 = c.utf8_seen;
	*consumed_r = c.pos;
	ret = 0;
out:
	if (ret < 0) {
		memset(a, 0, sizeof(*a));
		*error_r = addr_errors[c.err][sender];
	}
	return ret;
}

int
smtp_addr_format(const struct smtp_addr *a, char *dst, size_t dstlen)
{
	int n;

	if (dstlen == 0)
		return -1;
	if (a->null) {
		dst[0] = '\0';
		return 0;
	}
	if (a->domain[0] == '\0')	/* "<Postmaster>" */
		n = snprintf(dst, dstlen, "%s", a->local);
	else
		n = snprintf(dst, dstlen, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= dstlen) {
		dst[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Domain / address-literal, as in HELO/EHLO (4.1.1.1):
 *   ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
 */
bool
smtp_addr_valid_domain(const char *s, size_t len, bool utf8)
{
	struct addr_cur c = {
		.s = (const uint8_t *)s,
		.len = len,
		.utf8_ok = utf8,
	};

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	if (c.s[0] == '[') {
		if (parse_literal(&c) < 0)
			return false;
	} else if (parse_domain(&c) < 0)
		return false;
	return c.pos == len;
}
