/* mime_decode: content transfer decodings (base64, quoted-printable),
 * charset conversion to UTF-8 (a fixed list of charsets; UTF-8, US-ASCII
 * and ISO-8859-1 natively, the rest through glibc iconv), RFC 2047 encoded
 * words in header fields, and the text of a part for SEARCH and the spam
 * filter (with a crude HTML-to-text). All decoders are lenient and linear. */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "mime_private.h"

#define CHARSET_NAME_MAX	64
#define REPLACEMENT		0xfffdU

int
mime_utf8_put(struct buf *out, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = REPLACEMENT;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* Length of the valid UTF-8 sequence at p, or 0 (RFC 3629: no overlongs,
 * no surrogates, nothing past U+10FFFF). */
static size_t
utf8_seq(const uint8_t *p, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	cp = p[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* Copy p as UTF-8, invalid octets becoming U+FFFD. */
static int
utf8_sanitize(const uint8_t *p, size_t len, struct buf *out)
{
	size_t i = 0, s = 0, n;

	if (len == 0)
		return 0;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(p + i, len - i);
		if (n > 0) {
			i += n;
			continue;
		}
		if (buf_append(out, p + s, i - s) < 0 ||
		    mime_utf8_put(out, REPLACEMENT) < 0)
			return -1;
		s = ++i;
	}
	return buf_append(out, p + s, len - s);
}

enum cs_kind { CS_NONE = 0, CS_UTF8, CS_LATIN1, CS_ICONV };

/* Map a charset label to how it is converted; *iconv_r gets the iconv
 * name. Only these converters are ever loaded. */
static enum cs_kind
charset_lookup(const char *charset, char *iconv_r, size_t iconv_len)
{
	char cs[CHARSET_NAME_MAX];
	size_t i, n = strlen(charset);
	const char *num = NULL;
	unsigned v = 0;

	if (n == 0 || n >= sizeof(cs))
		return CS_NONE;
	for (i = 0; i <= n; i++)
		cs[i] = (char)mime_lc((uint8_t)charset[i]);
	if (strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0 ||
	    strcmp(cs, "us-ascii") == 0 || strcmp(cs, "ascii") == 0 ||
	    strcmp(cs, "ansi_x3.4-1968") == 0 || strcmp(cs, "iso646-us") == 0)
		return CS_UTF8;
	if (strcmp(cs, "latin1") == 0 || strcmp(cs, "l1") == 0)
		return CS_LATIN1;
	if (strncmp(cs, "iso-8859-", 9) == 0 || strncmp(cs, "iso_8859-", 9) == 0)
		num = cs + 9;
	else if (strncmp(cs, "iso8859-", 8) == 0)
		num = cs + 8;
	if (num != NULL) {
		for (i = 0; num[i] >= '0' && num[i] <= '9' && i < 2; i++)
			v = v * 10 + (unsigned)(num[i] - '0');
		if (i == 0 || num[i] != '\0' || v < 1 || v > 16 || v == 12)
			return CS_NONE;
		if (v == 1)
			return CS_LATIN1;
		(void)snprintf(iconv_r, iconv_len, "ISO-8859-%u", v);
		return CS_ICONV;
	}
	if (strncmp(cs, "windows-125", 11) == 0)
		num = cs + 11;
	else if (strncmp(cs, "cp125", 5) == 0)
		num = cs + 5;
	else if (strncmp(cs, "x-cp125", 7) == 0)
		num = cs + 7;
	if (num != NULL) {
		if (num[0] < '0' || num[0] > '8' || num[1] != '\0')
			return CS_NONE;
		(void)snprintf(iconv_r, iconv_len, "WINDOWS-125%c", num[0]);
		return CS_ICONV;
	}
	if (strcmp(cs, "koi8-r") == 0 || strcmp(cs, "koi8-u") == 0) {
		(void)snprintf(iconv_r, iconv_len, "%s",
		    cs[5] == 'r' ? "KOI8-R" : "KOI8-U");
		return CS_ICONV;
	}
	return CS_NONE;
}

bool
mime_charset_known(const char *charset)
{
	char name[CHARSET_NAME_MAX];

	return charset_lookup(charset, name, sizeof(name)) != CS_NONE;
}

static int
iconv_convert(const char *name, const uint8_t *p, size_t len,
    struct buf *out)
{
	char tmp[1024], *in = (char *)(uintptr_t)p, *o;
	size_t inleft = len, oleft, r;
	iconv_t cd;
	int ret = 0;

	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return 1;
	while (inleft > 0) {
		o = tmp;
		oleft = sizeof(tmp);
		r = iconv(cd, &in, &inleft, &o, &oleft);
		if (buf_append(out, tmp, sizeof(tmp) - oleft) < 0) {
			ret = -1;
			break;
		}
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		/* EILSEQ or a truncated sequence: replace one octet */
		if (mime_utf8_put(out, REPLACEMENT) < 0) {
			ret = -1;
			break;
		}
		in++;
		inleft--;
	}
	(void)iconv_close(cd);
	return ret;
}

int
mime_charset_to_utf8(const char *charset, const uint8_t *p, size_t len,
    struct buf *out)
{
	char name[CHARSET_NAME_MAX];
	size_t i;

	switch (charset_lookup(charset, name, sizeof(name))) {
	case CS_UTF8:
		return utf8_sanitize(p, len, out);
	case CS_LATIN1:
		for (i = 0; i < len; i++)
			if (mime_utf8_put(out, p[i]) < 0)
				return -1;
		return 0;
	case CS_ICONV:
		switch (iconv_convert(name, p, len, out)) {
		case 0:
			return 0;
		case -1:
			return -1;
		default:
			break;
		}
		/* the converter is not installed */
		/* FALLTHROUGH */
	case CS_NONE:
	default:
		break;
	}
	return buf_append(out, p, len) < 0 ? -1 : 1;
}

static const int8_t b64[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};	/* value + 1; 0 = not in the alphabet */

int
mime_base64_decode(const uint8_t *p, size_t len, struct buf *out,
    bool *bad_r)
{
	uint8_t tmp[768];
	size_t i, t = 0;
	uint32_t acc = 0;
	unsigned n = 0;
	bool bad = false;

	for (i = 0; i <= len; i++) {
		if (i < len && b64[p[i]] != 0) {
			acc = acc << 6 | (uint32_t)(b64[p[i]] - 1);
			if (++n == 4) {
				tmp[t++] = (uint8_t)(acc >> 16);
				tmp[t++] = (uint8_t)(acc >> 8);
				tmp[t++] = (uint8_t)acc;
				n = 0;
				acc = 0;
			}
		} else if (i == len || p[i] == '=') {
			/* the end of a quantum: keep whole octets */
			if (n == 1)
				bad = true;
			else if (n == 2)
				tmp[t++] = (uint8_t)(acc >> 4);
			else if (n == 3) {
				tmp[t++] = (uint8_t)(acc >> 10);
				tmp[t++] = (uint8_t)(acc >> 2);
			}
			n = 0;
			acc = 0;
		} else if (!mime_is_space(p[i]))
			bad = true;
		if (t + 3 > sizeof(tmp) || i == len) {
			if (buf_append(out, tmp, t) < 0)
				return -1;
			t = 0;
		}
	}
	if (bad && bad_r != NULL)
		*bad_r = true;
	return 0;
}

/* Quoted-printable (RFC 2045 6.7); header_q selects the RFC 2047 "Q"
 * form ('_' is a space, no line structure). */
int
mime_qp_decode(const uint8_t *p, size_t len, bool header_q, struct buf *out,
    bool *bad_r)
{
	uint8_t tmp[512];
	size_t i = 0, t = 0, e, ce, next;
	const uint8_t *lf;
	int h, l;
	bool bad = false, soft;

	while (i < len) {
		/* one line: [i, ce) content without trailing blanks */
		lf = header_q ? NULL : memchr(p + i, '\n', len - i);
		/* UNSAFE: lf is inside p[i..len) when not NULL. */
		e = lf != NULL ? (size_t)(lf - p) : len;
		next = lf != NULL ? e + 1 : len;
		ce = e;
		if (!header_q)
			while (ce > i && (mime_is_wsp(p[ce - 1]) ||
			    p[ce - 1] == '\r'))
				ce--;
		soft = !header_q && ce > i && p[ce - 1] == '=';
		if (soft)
			ce--;
		for (; i < ce; i++) {
			if (t + 4 > sizeof(tmp)) {
				if (buf_append(out, tmp, t) < 0)
					return -1;
				t = 0;
			}
			if (p[i] == '=' && i + 2 < ce &&
			    (h = mime_hexval(p[i + 1])) >= 0 &&
			    (l = mime_hexval(p[i + 2])) >= 0) {
				tmp[t++] = (uint8_t)(h << 4 | l);
				i += 2;
			} else if (header_q && p[i] == '_') {
				tmp[t++] = ' ';
			} else {
				if (p[i] == '=')
					bad = true;
				tmp[t++] = p[i];
			}
		}
		if (t + 4 > sizeof(tmp)) {
			if (buf_append(out, tmp, t) < 0)
				return -1;
			t = 0;
		}
		if (lf != NULL && !soft) {
			if (e > 0 && p[e - 1] == '\r')
				tmp[t++] = '\r';
			tmp[t++] = '\n';
		}
		i = next;
	}
	if (bad && bad_r != NULL)
		*bad_r = true;
	return buf_append(out, tmp, t);
}

/* An RFC 2047 encoded word: =?charset[*lang]?B|Q?text?= */
struct ew {
	const uint8_t	*cs;
	size_t		 cslen;
	char		 enc;
	const uint8_t	*text;
	size_t		 textlen;
	size_t		 end;		/* after "?=" */
};

/* Is there an encoded word at v[i]? *fail_until remembers the end of a
 * text run already known to hold no "?=", so a run of "=?" openers is
 * scanned once (linear time). */
static bool
ew_parse(const uint8_t *v, size_t len, size_t i, size_t *fail_until,
    struct ew *ew)
{
	size_t j = i + 2, k;

	if (i + 1 >= len || v[i] != '=' || v[i + 1] != '?')
		return false;
	ew->cs = v + j;
	while (j < len && v[j] != '?' && v[j] > 32 && v[j] < 127 &&
	    j - i < CHARSET_NAME_MAX)
		j++;
	if (j >= len || v[j] != '?' || j == i + 2)
		return false;
	ew->cslen = j - i - 2;
	if (j + 2 >= len || v[j + 2] != '?')
		return false;
	ew->enc = (char)mime_lc(v[j + 1]);
	if (ew->enc != 'b' && ew->enc != 'q')
		return false;
	k = j + 3;
	if (k < *fail_until)
		return false;
	ew->text = v + k;
	while (k < len && !mime_is_space(v[k]) &&
	    !(v[k] == '?' && k + 1 < len && v[k + 1] == '='))
		k++;
	if (k >= len || v[k] != '?') {
		*fail_until = k;
		return false;
	}
	ew->textlen = k - (j + 3);
	ew->end = k + 2;
	return true;
}

struct hdec {
	struct buf	*out;
	struct buf	 pend;		/* decoded octets of adjacent words */
	char		 cs[CHARSET_NAME_MAX];
};

static int
hdec_flush(struct hdec *h)
{
	int r = 0;

	if (h->pend.len > 0 &&
	    mime_charset_to_utf8(h->cs, h->pend.data, h->pend.len, h->out) < 0)
		r = -1;
	buf_reset(&h->pend);
	return r;
}

/* Decode one encoded word: octets join the pending run when the charset
 * is the same (a character may be split across words). */
static int
hdec_word(struct hdec *h, const struct ew *ew, const uint8_t *raw,
    size_t rawlen)
{
	char cs[CHARSET_NAME_MAX];
	const uint8_t *star;
	size_t n = ew->cslen;

	star = memchr(ew->cs, '*', n);	/* RFC 2231 5: charset*lang */
	if (star != NULL)
		n = (size_t)(star - ew->cs);
	memcpy(cs, ew->cs, n);
	cs[n] = '\0';
	if (!mime_charset_known(cs)) {
		if (hdec_flush(h) < 0)
			return -1;
		return utf8_sanitize(raw, rawlen, h->out);
	}
	if (strcasecmp(cs, h->cs) != 0) {
		if (hdec_flush(h) < 0)
			return -1;
		memcpy(h->cs, cs, n + 1);
	}
	if (ew->enc == 'b')
		return mime_base64_decode(ew->text, ew->textlen, &h->pend,
		    NULL);
	return mime_qp_decode(ew->text, ew->textlen, true, &h->pend, NULL);
}

int
mime_header_decode(const uint8_t *v, size_t len, struct buf *out)
{
	struct hdec h;
	struct ew ew;
	size_t i = 0, s, fail_until = 0;
	bool after_word = false;
	int r = 0;

	h.out = out;
	h.cs[0] = '\0';
	buf_init(&h.pend, out->max);
	while (i < len && r == 0) {
		if (ew_parse(v, len, i, &fail_until, &ew)) {
			r = hdec_word(&h, &ew, v + i, ew.end - i);
			i = ew.end;
			after_word = true;
			continue;
		}
		if (mime_is_space(v[i])) {
			s = i;
			while (i < len && mime_is_space(v[i]))
				i++;
			/* RFC 2047 6.2: blanks between two encoded words
			 * are not displayed */
			if (after_word && i < len &&
			    ew_parse(v, len, i, &fail_until, &ew))
				continue;
			if (hdec_flush(&h) < 0) {
				r = -1;
				break;
			}
			for (; s < i && r == 0; s++)
				if (mime_is_wsp(v[s]))
					r = buf_append(out, v + s, 1);
			after_word = false;
			continue;
		}
		if (hdec_flush(&h) < 0) {
			r = -1;
			break;
		}
		s = i++;
		while (i < len && !mime_is_space(v[i]) && v[i] != '=')
			i++;
		r = utf8_sanitize(v + s, i - s, out);
		after_word = false;
	}
	if (r == 0)
		r = hdec_flush(&h);
	buf_deinit(&h.pend);
	return r;
}

int
mime_part_decode(const struct mime_message *m, const struct mime_part *part,
    struct buf *out, bool *bad_r)
{
	const uint8_t *p = m->data + part->body_off;

	switch (part->cte) {
	case MIME_CTE_BASE64:
		return mime_base64_decode(p, part->body_len, out, bad_r);
	case MIME_CTE_QP:
		return mime_qp_decode(p, part->body_len, false, out, bad_r);
	default:
		return buf_append(out, p, part->body_len);
	}
}

/* The named entities worth knowing for search. */
static const struct {
	const char	*name;
	uint32_t	 cp;
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xa9 },
	{ "reg", 0xae }, { "euro", 0x20ac }, { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "laquo", 0xab },
	{ "raquo", 0xbb }, { "shy", 0 }, { "zwnj", 0 }, { "lsquo", 0x2018 },
	{ "rsquo", 0x2019 }, { "ldquo", 0x201c }, { "rdquo", 0x201d },
	{ "trade", 0x2122 }, { "bull", 0x2022 }, { "middot", 0xb7 },
	{ "eacute", 0xe9 }, { "egrave", 0xe8 }, { "ecirc", 0xea },
	{ "aacute", 0xe1 }, { "agrave", 0xe0 }, { "acirc", 0xe2 },
	{ "ccedil", 0xe7 }, { "auml", 0xe4 }, { "ouml", 0xf6 },
	{ "uuml", 0xfc }, { "Auml", 0xc4 }, { "Ouml", 0xd6 },
	{ "Uuml", 0xdc }, { "szlig", 0xdf }, { "iacute", 0xed },
	{ "oacute", 0xf3 }, { "uacute", 0xfa }, { "ntilde", 0xf1 },
};

/* An entity at p[0] == '&': *cp_r (0: nothing to show) and its length,
 * or 0 when it is not one. */
static size_t
entity(const uint8_t *p, size_t len, uint32_t *cp_r)
{
	size_t i = 1, n;
	uint32_t cp = 0;
	bool hex;

	if (i < len && p[i] == '#') {
		i++;
		hex = i < len && (p[i] == 'x' || p[i] == 'X');
		if (hex)
			i++;
		for (n = 0; i < len && n < 8; i++, n++) {
			int v = mime_hexval(p[i]);

			if (v < 0 || (!hex && v > 9))
				break;
			cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		}
		if (n == 0)
			return 0;
		*cp_r = cp == 0 ? REPLACEMENT : cp;
		return i < len && p[i] == ';' ? i + 1 : i;
	}
	for (n = 0; n < sizeof(entities) / sizeof(entities[0]); n++) {
		size_t l = strlen(entities[n].name);

		if (l + 1 < len && memcmp(p + 1, entities[n].name, l) == 0 &&
		    p[l + 1] == ';') {
			*cp_r = entities[n].cp;
			return l + 2;
		}
	}
	return 0;
}

static bool
tag_is(const uint8_t *name, size_t n, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strlen(list[i]) == n && memcmp(name, list[i], n) == 0)
			return true;
	return false;
}

/* Skip past "</name" ... '>' (case-insensitive), or to the end. */
static size_t
skip_raw_element(const uint8_t *p, size_t len, size_t i, const char *name)
{
	size_t n = strlen(name), k;
	const uint8_t *lt;

	while (i < len && (lt = memchr(p + i, '<', len - i)) != NULL) {
		/* UNSAFE: lt is within p[i..len). */
		i = (size_t)(lt - p) + 1;
		if (i < len && p[i] == '/') {
			for (k = 0; k < n && i + 1 + k < len &&
			    mime_lc(p[i + 1 + k]) == (uint8_t)name[k]; k++)
				;
			if (k == n) {
				lt = memchr(p + i, '>', len - i);
				return lt == NULL ? len : (size_t)(lt - p) + 1;
			}
		}
	}
	return len;
}

/* Separators are held back and written before the next text, so that
 * a newline wins over a space and nothing trails. */
struct html_out {
	struct buf	*out;
	char		 pend;
	bool		 any;
};

static void
html_sep(struct html_out *h, char sep)
{
	if (h->pend != '\n')
		h->pend = sep;
}

static int
html_text(struct html_out *h, const uint8_t *p, size_t n)
{
	if (h->pend != 0 && h->any && buf_append(h->out, &h->pend, 1) < 0)
		return -1;
	h->pend = 0;
	h->any = true;
	return buf_append(h->out, p, n);
}

int
mime_html_to_text(const uint8_t *p, size_t len, struct buf *out)
{
	static const char *const block[] = { "br", "p", "div", "tr", "li",
		"h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr",
		"title", "ul", "ol", "dd", "dt", "pre", NULL };
	static const char *const inl[] = { "a", "b", "i", "u", "em", "strong",
		"span", "font", "small", "big", "sub", "sup", "s", "strike",
		"tt", "code", "abbr", "wbr", NULL };
	struct html_out h = { out, 0, false };
	uint8_t name[16];
	size_t i = 0, n, e;
	const uint8_t *q;
	uint32_t cp;
	bool close;
	uint8_t quote;

	while (i < len) {
		if (p[i] == '<') {
			if (i + 3 < len && memcmp(p + i, "<!--", 4) == 0) {
				q = memmem(p + i + 4, len - i - 4, "-->", 3);
				/* UNSAFE: q is within p when not NULL. */
				i = q == NULL ? len : (size_t)(q - p) + 3;
				continue;
			}
			i++;
			close = i < len && p[i] == '/';
			if (close)
				i++;
			for (n = 0; i < len && n < sizeof(name) &&
			    (((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z') ||
			    (p[i] >= '0' && p[i] <= '9')); i++)
				name[n++] = mime_lc(p[i]);
			for (quote = 0; i < len; i++) {
				if (quote != 0) {
					if (p[i] == quote)
						quote = 0;
				} else if (p[i] == '"' || p[i] == '\'')
					quote = p[i];
				else if (p[i] == '>')
					break;
			}
			if (i < len)
				i++;
			if (!close && n == 6 && memcmp(name, "script", 6) == 0)
				i = skip_raw_element(p, len, i, "script");
			else if (!close && n == 5 &&
			    memcmp(name, "style", 5) == 0)
				i = skip_raw_element(p, len, i, "style");
			else if (tag_is(name, n, block))
				html_sep(&h, '\n');
			else if (n > 0 && !tag_is(name, n, inl))
				html_sep(&h, ' ');
			continue;
		}
		if (mime_is_space(p[i])) {
			html_sep(&h, ' ');
			i++;
			continue;
		}
		if (p[i] == '&' && (e = entity(p + i, len - i, &cp)) > 0) {
			i += e;
			if (cp == ' ') {
				html_sep(&h, ' ');
				continue;
			}
			if (cp == 0)
				continue;
			if (html_text(&h, NULL, 0) < 0 ||
			    mime_utf8_put(out, cp) < 0)
				return -1;
			continue;
		}
		for (n = i + 1; n < len && p[n] != '<' && p[n] != '&' &&
		    !mime_is_space(p[n]); n++)
			;
		if (html_text(&h, p + i, n - i) < 0)
			return -1;
		i = n;
	}
	return 0;
}

int
mime_part_text(const struct mime_message *m, const struct mime_part *part,
    struct buf *out)
{
	const struct mime_param *cs;
	struct buf raw, text;
	int r;

	if (strcmp(part->type, "text") != 0 ||
	    (part->flags & MIME_PART_MULTIPART) != 0)
		return 1;
	buf_init(&raw, out->max);
	buf_init(&text, out->max);
	r = mime_part_decode(m, part, &raw, NULL);
	if (r == 0) {
		cs = mime_param_find(part->params, part->nparams, "charset");
		r = mime_charset_to_utf8(cs != NULL ? cs->value : "us-ascii",
		    raw.data, raw.len, &text);
		if (r == 1) {
			/* unknown charset: keep what is valid UTF-8 */
			buf_reset(&text);
			r = utf8_sanitize(raw.data, raw.len, &text);
		}
	}
	if (r == 0) {
		if (strcmp(part->subtype, "html") == 0)
			r = mime_html_to_text(text.data, text.len, out);
		else
			r = buf_append(out, text.data, text.len);
	}
	buf_deinit(&raw);
	buf_deinit(&text);
	return r < 0 ? -1 : 0;
}
