/* spf_macro: SPF macro syntax checks and expansion (RFC 7208 section 7),
 * domain-spec rules (7.1 domain-end, 7.3 the 253-octet truncation) and
 * the address forms the i, c and v macros expand to. Pure: no I/O. */
#include "spf_parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define MACRO_DELIMS ".-+,/_="		/* delimiter, 7.1 */
#define MACRO_DELIMS_MAX 8
/* Domain expansion keeps this much of the tail: a name of
 * SPF_DOMAIN_MAX octets, the dot before it and a trailing dot. */
#define DOMAIN_KEEP (SPF_DOMAIN_MAX + 2)
#define DOMAIN_WINDOW 600		/* > 2 * DOMAIN_KEEP */

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* macro-literal = %x21-24 / %x26-7E */
static bool
is_literal(int c)
{
	return c >= 0x21 && c <= 0x7e && c != '%';
}

/* One parsed macro-expand. */
struct macro {
	char		 letter;	/* lower case; '%', '_', '-' specials */
	bool		 upper;
	bool		 reverse;
	unsigned	 digits;	/* 0: all */
	char		 delims[MACRO_DELIMS_MAX];
	size_t		 ndelims;
};

static bool
letter_ok(char l, enum spf_macro_mode mode)
{
	if (strchr("slodipvh", l) != NULL)
		return true;
	/* c, r, t only in exp text (7.2); a macro-string of an unknown
	 * modifier follows the plain ABNF, which lists them. */
	return mode != SPF_MACRO_DOMAIN && strchr("crt", l) != NULL;
}

/* Parse a macro-expand at s[*pos] == '%'. Returns 0 and advances *pos, or
 * -1 with *error_r.
 * macro-expand = ( "%{" macro-letter transformers *delimiter "}" )
 *                / "%%" / "%_" / "%-"
 * transformers = *DIGIT [ "r" ] */
static int
macro_parse(const char *s, size_t len, size_t *pos, enum spf_macro_mode mode,
    struct macro *m, const char **error_r)
{
	size_t i = *pos + 1;
	unsigned long n = 0;
	bool have_digits = false;
	char l;

	memset(m, 0, sizeof(*m));
	if (i >= len) {
		*error_r = "'%' at the end of a macro-string";
		return -1;
	}
	if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
		m->letter = s[i];
		*pos = i + 1;
		return 0;
	}
	if (s[i] != '{') {
		*error_r = "'%' not followed by '{', '%', '_' or '-'";
		return -1;
	}
	i++;
	if (i >= len || !is_alpha((unsigned char)s[i])) {
		*error_r = "bad macro letter";
		return -1;
	}
	l = s[i];
	m->upper = l >= 'A' && l <= 'Z';
	m->letter = (char)(m->upper ? l - 'A' + 'a' : l);
	if (!letter_ok(m->letter, mode)) {
		*error_r = "macro letter not allowed here";
		return -1;
	}
	i++;
	while (i < len && is_digit((unsigned char)s[i])) {
		have_digits = true;
		if (n <= SPF_MACRO_PARTS_MAX)
			n = n * 10 + (unsigned long)(s[i] - '0');
		i++;
	}
	if (have_digits && n == 0) {
		*error_r = "macro digit transformer of zero";
		return -1;
	}
	m->digits = n > SPF_MACRO_PARTS_MAX ? 0 : (unsigned)n;
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		m->reverse = true;
		i++;
	}
	while (i < len && s[i] != '}') {
		if (strchr(MACRO_DELIMS, s[i]) == NULL || s[i] == '\0') {
			*error_r = "bad macro delimiter";
			return -1;
		}
		if (m->ndelims < MACRO_DELIMS_MAX &&
		    memchr(m->delims, s[i], m->ndelims) == NULL)
			m->delims[m->ndelims++] = s[i];
		i++;
	}
	if (i >= len) {
		*error_r = "unterminated macro";
		return -1;
	}
	*pos = i + 1;
	return 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_ok(const char *s, size_t len)
{
	bool alpha = false, hyphen = false;
	size_t i;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++) {
		if (is_alpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!is_digit((unsigned char)s[i]))
			return false;
	}
	return alpha || hyphen;
}

int
spf_macro_check(const char *s, size_t len, enum spf_macro_mode mode,
    const char **error_r)
{
	size_t i = 0, lit = 0, end;
	bool last_macro = false;
	struct macro m;

	while (i < len) {
		if (s[i] == '%') {
			if (macro_parse(s, len, &i, mode, &m, error_r) < 0)
				return -1;
			last_macro = true;
			lit = i;
			continue;
		}
		if (!is_literal((unsigned char)s[i]) &&
		    !(mode == SPF_MACRO_EXPLAIN && s[i] == ' ')) {
			*error_r = "bad character in macro-string";
			return -1;
		}
		last_macro = false;
		i++;
	}
	if (mode != SPF_MACRO_DOMAIN)
		return 0;
	/* domain-end = ( "." toplabel [ "." ] ) / macro-expand */
	if (len == 0) {
		*error_r = "empty domain-spec";
		return -1;
	}
	if (last_macro)
		return 0;
	end = len;
	if (end > lit && s[end - 1] == '.')
		end--;
	for (i = end; i > lit; i--)
		if (s[i - 1] == '.')
			break;
	if (i == lit || !toplabel_ok(s + i, end - i)) {
		*error_r = "domain-spec does not end in a valid top label";
		return -1;
	}
	return 0;
}

bool
spf_macro_uses_p(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 2 < len; i++)
		if (s[i] == '%' && s[i + 1] == '{' &&
		    (s[i + 2] == 'p' || s[i + 2] == 'P'))
			return true;
		else if (s[i] == '%')
			i++;	/* "%%" is a literal: skip its second '%' */
	return false;
}

/* The output: bounded for explanations (truncated), a sliding window of
 * the tail for domains (truncated from the left later, 7.3). */
struct out {
	char	*buf;
	size_t	 len;
	size_t	 cap;		/* usable octets, excluding the NUL */
	bool	 domain;
	bool	 cut;		/* domain: the head was dropped */
	char	 window[DOMAIN_WINDOW];
};

static void
out_putc(struct out *o, char c)
{
	char *b = o->domain ? o->window : o->buf;

	if (o->len == o->cap) {
		if (!o->domain)
			return;		/* explanation: truncated */
		/* UNSAFE: cap is DOMAIN_WINDOW - 1 > DOMAIN_KEEP, so the
		 * tail of DOMAIN_KEEP octets lies within the window. */
		memmove(b, b + o->len - DOMAIN_KEEP, DOMAIN_KEEP);
		o->len = DOMAIN_KEEP;
		o->cut = true;
	}
	b[o->len++] = c;
}

static bool
is_unreserved(int c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
	    c == '_' || c == '~';
}

static void
out_value(struct out *o, const char *v, size_t n, bool upper)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (upper && !is_unreserved(c)) {
			out_putc(o, '%');
			out_putc(o, hex[c >> 4]);
			out_putc(o, hex[c & 15]);
		} else
			out_putc(o, (char)c);
	}
}

static bool
is_delim(const struct macro *m, char c)
{
	if (m->ndelims == 0)
		return c == '.';
	return memchr(m->delims, c, m->ndelims) != NULL;
}

/* Split v on the delimiters, optionally reverse, keep the right-hand
 * `digits` parts, join with "." (7.3). Linear in the value's length. */
static void
out_transformed(struct out *o, const struct macro *m, const char *v)
{
	size_t len = strlen(v), nparts = 1, keep, i, k, start, end;

	if (m->digits == 0 && !m->reverse && m->ndelims == 0) {
		out_value(o, v, len, m->upper);
		return;
	}
	for (i = 0; i < len; i++)
		if (is_delim(m, v[i]))
			nparts++;
	keep = m->digits == 0 || m->digits > nparts ? nparts : m->digits;
	if (!m->reverse) {
		/* parts nparts - keep .. nparts - 1, in order */
		for (i = 0, k = 0; k < nparts - keep; i++)
			if (is_delim(m, v[i]))
				k++;
		start = i;
		for (i = start; i <= len; i++) {
			if (i == len || is_delim(m, v[i])) {
				out_value(o, v + start, i - start, m->upper);
				if (i < len)
					out_putc(o, '.');
				start = i + 1;
			}
		}
		return;
	}
	/* reversed: parts keep - 1 down to 0 */
	for (end = 0, k = 0; end < len; end++)
		if (is_delim(m, v[end]) && ++k == keep)
			break;
	/* v[0..end) holds parts 0 .. keep - 1 */
	i = end;
	for (;;) {
		start = i;
		while (start > 0 && !is_delim(m, v[start - 1]))
			start--;
		out_value(o, v + start, i - start, m->upper);
		if (start == 0)
			break;
		out_putc(o, '.');
		i = start - 1;
	}
}

static const char *
macro_value(const struct spf_macro_vars *vars, char letter, char *tbuf,
    size_t tlen)
{
	switch (letter) {
	case 's': return vars->s;
	case 'l': return vars->l;
	case 'o': return vars->o;
	case 'd': return vars->d;
	case 'i': return vars->i;
	case 'c': return vars->c;
	case 'v': return vars->v;
	case 'h': return vars->h;
	case 'p': return vars->p;
	case 'r': return vars->r != NULL ? vars->r : "unknown";
	case 't':
		if (snprintf(tbuf, tlen, "%lld", (long long)vars->t) < 0)
			return NULL;
		return tbuf;
	default:
		return NULL;
	}
}

/* Left-truncate a domain by whole labels to SPF_DOMAIN_MAX (7.3) and
 * drop one trailing dot. Returns the length copied to dst. */
static int
domain_finish(struct out *o, char *dst, size_t dstlen, const char **error_r)
{
	const char *b = o->window;
	size_t len = o->len, k = 0;

	if (len > 0 && b[len - 1] == '.')
		len--;
	if (len > SPF_DOMAIN_MAX || o->cut) {
		for (k = len > SPF_DOMAIN_MAX ? len - SPF_DOMAIN_MAX : 0;
		    k < len; k++)
			if (k > 0 && b[k - 1] == '.')
				break;
		if (k == len || (k == 0 && o->cut)) {
			*error_r = "expanded domain has a label too long";
			return -1;
		}
	}
	if (len - k + 1 > dstlen) {
		*error_r = "output buffer too small";
		return -1;
	}
	memcpy(dst, b + k, len - k);
	dst[len - k] = '\0';
	return (int)(len - k);
}

int
spf_macro_expand(const char *s, size_t len, enum spf_macro_mode mode,
    const struct spf_macro_vars *vars, char *dst, size_t dstlen,
    const char **error_r)
{
	struct out o;
	char tbuf[32];
	const char *v;
	struct macro m;
	size_t i = 0;

	if (dstlen == 0 || spf_macro_check(s, len, mode, error_r) < 0)
		return -1;
	memset(&o, 0, sizeof(o));
	o.domain = mode == SPF_MACRO_DOMAIN;
	o.buf = dst;
	o.cap = o.domain ? DOMAIN_WINDOW - 1 : dstlen - 1;
	while (i < len) {
		if (s[i] != '%') {
			out_putc(&o, s[i++]);
			continue;
		}
		if (macro_parse(s, len, &i, mode, &m, error_r) < 0)
			return -1;
		switch (m.letter) {
		case '%':
			out_putc(&o, '%');
			continue;
		case '_':
			out_putc(&o, ' ');
			continue;
		case '-':
			out_value(&o, "%20", 3, false);
			continue;
		default:
			break;
		}
		v = macro_value(vars, m.letter, tbuf, sizeof(tbuf));
		if (v == NULL) {
			*error_r = "macro value not available";
			return -1;
		}
		out_transformed(&o, &m, v);
	}
	if (o.domain)
		return domain_finish(&o, dst, dstlen, error_r);
	dst[o.len] = '\0';
	return (int)o.len;
}

bool
spf_domain_valid(const char *name)
{
	size_t len = strlen(name), i, label = 0, labels = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > SPF_LABEL_MAX)
				return false;
			labels++;
			label = 0;
		} else if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f)
			return false;
		else
			label++;
	}
	return labels >= 2;
}

void
spf_macro_ip(int family, const void *addr, char *i, size_t ilen, char *c,
    size_t clen, const char **v_r)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *b = addr;
	size_t k, n = 0;

	if (inet_ntop(family, addr, c, (socklen_t)clen) == NULL && clen > 0)
		c[0] = '\0';
	if (family == AF_INET) {
		*v_r = "in-addr";
		moat_strlcpy(i, c, ilen);
		return;
	}
	*v_r = "ip6";
	/* 32 nibbles, high first, dot-separated: 63 octets. The suite
	 * expects upper-case hex (pyspf); DNS names compare either way. */
	for (k = 0; k < 16 && n + 4 <= ilen; k++) {
		i[n++] = hex[b[k] >> 4];
		i[n++] = '.';
		i[n++] = hex[b[k] & 15];
		i[n++] = '.';
	}
	if (n > 0)
		n--;		/* no trailing dot */
	if (ilen > 0)
		i[n < ilen ? n : ilen - 1] = '\0';
}
