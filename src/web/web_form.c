/* web_form: query strings and the one-click body. See web_form.h. */
#include "web_form.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0, len) into out: 0, or -1 (malformed, a control
 * character, or too long). */
static int
decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (len - i < 3)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

int
web_form_get(const char *s, size_t len, const char *key, char *out,
    size_t outlen)
{
	size_t klen = strlen(key), i = 0, end;
	const char *amp;

	while (i <= len) {
		amp = memchr(s + i, '&', len - i);
		end = amp != NULL ? (size_t)(amp - s) : len;
		/* UNSAFE: i <= end <= len; the pair is s[i, end). */
		if (end - i > klen && memcmp(s + i, key, klen) == 0 &&
		    s[i + klen] == '=')
			return decode(s + i + klen + 1, end - i - klen - 1,
			    out, outlen) < 0 ? -1 : 1;
		i = end + 1;
	}
	return 0;
}

/* The boundary parameter of a multipart/form-data content type. */
static int
boundary_of(const char *ctype, char *out, size_t outlen)
{
	const char *p = ctype, *q;
	size_t n;

	for (;;) {
		p = strchr(p, ';');
		if (p == NULL)
			return -1;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (ascii_nieq(p, "boundary=", 9))
			break;
	}
	p += 9;
	if (*p == '"') {
		p++;
		if ((q = strchr(p, '"')) == NULL)
			return -1;
	} else {
		q = p + strcspn(p, "; \t");
	}
	n = (size_t)(q - p);
	if (n == 0 || n > WEB_BOUNDARY_MAX || n + 1 > outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* multipart/form-data (RFC 7578): a part whose Content-Disposition names
 * the field List-Unsubscribe and whose content is One-Click. */
static bool
multipart_one_click(const char *ctype, const uint8_t *body, size_t len)
{
	static const char name[] = "name=\"List-Unsubscribe\"";
	static const char value[] = "One-Click";
	char boundary[WEB_BOUNDARY_MAX + 1], delim[WEB_BOUNDARY_MAX + 5];
	const uint8_t *p, *end = body + len, *next, *hdr_end, *h;
	size_t dlen;

	if (boundary_of(ctype, boundary, sizeof(boundary)) < 0)
		return false;
	/* Each part follows CRLF "--" boundary; the first may start the
	 * body without the CRLF. */
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
		p = body + dlen - 2;
	else if ((p = memmem(body, len, delim, dlen)) != NULL)
		p += dlen;
	while (p != NULL) {
		/* p is just past a delimiter. */
		if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
			return false;	/* "--" closes, or garbage */
		p += 2;
		next = memmem(p, (size_t)(end - p), delim, dlen);
		if (next == NULL)
			return false;
		hdr_end = memmem(p, (size_t)(next - p), "\r\n\r\n", 4);
		if (hdr_end != NULL) {
			for (h = p; h + sizeof(name) - 1 <= hdr_end; h++)
				if (ascii_nieq((const char *)h, name,
				    sizeof(name) - 1))
					break;
			if (h + sizeof(name) - 1 <= hdr_end &&
			    (size_t)(next - (hdr_end + 4)) ==
			    sizeof(value) - 1 &&
			    memcmp(hdr_end + 4, value, sizeof(value) - 1) == 0)
				return true;
		}
		p = next + dlen;
	}
	return false;
}

bool
web_form_is_one_click(const char *ctype, const uint8_t *body, size_t len)
{
	char v[16];
	size_t tlen = strcspn(ctype, "; \t");

	if (tlen == 19 && ascii_nieq(ctype, "multipart/form-data", 19))
		return multipart_one_click(ctype, body, len);
	if (tlen != 0 && !(tlen == 33 &&
	    ascii_nieq(ctype, "application/x-www-form-urlencoded", 33)))
		return false;
	return web_form_get((const char *)body, len, "List-Unsubscribe", v,
	    sizeof(v)) == 1 && strcmp(v, "One-Click") == 0;
}
