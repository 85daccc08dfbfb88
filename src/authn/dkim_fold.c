/* dkim_fold: writing the tag=value fields we sign (DKIM-Signature,
 * ARC-Message-Signature, ARC-Seal) folded at DKIM_FOLD_COLUMNS: tags
 * placed whole, b= broken anywhere (whitespace in b= is ignored, RFC
 * 6376 3.5). */
#include "dkim_private.h"

#include <stdarg.h>
#include <stdio.h>

#include <openssl/evp.h>

#define DKIM_B64_MAX	(4 * ((DKIM_SIG_B_MAX + 2) / 3) + 1)

int
dkim_fold_put(struct buf *out, size_t *col, const char *s, size_t n,
    bool space)
{
	if (*col + (space ? 1 : 0) + n > DKIM_FOLD_COLUMNS && *col > 1) {
		if (buf_append(out, "\r\n ", 3) < 0)
			return -1;
		*col = 1;
	} else if (space) {
		if (buf_append(out, " ", 1) < 0)
			return -1;
		(*col)++;
	}
	if (buf_append(out, s, n) < 0)
		return -1;
	*col += n;
	return 0;
}

int
dkim_fold_put_fmt(struct buf *out, size_t *col, const char *fmt, ...)
{
	char tmp[DKIM_DOMAIN_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -1;
	return dkim_fold_put(out, col, tmp, (size_t)n, true);
}

int
dkim_fold_b(struct buf *out, size_t col, const uint8_t *sig, size_t siglen)
{
	char b64[DKIM_B64_MAX];
	size_t b64len, off, k;
	int r = 0;

	if (siglen > DKIM_SIG_B_MAX)
		return -1;
	b64len = (size_t)EVP_EncodeBlock((unsigned char *)b64, sig,
	    (int)siglen);
	for (off = 0; off < b64len; off += k) {
		k = col < DKIM_FOLD_COLUMNS ? DKIM_FOLD_COLUMNS - col : 0;
		if (k == 0) {
			r |= buf_append(out, "\r\n ", 3);
			col = 1;
			continue;
		}
		if (k > b64len - off)
			k = b64len - off;
		r |= buf_append(out, b64 + off, k);
		col += k;
	}
	r |= buf_append(out, "\r\n", 2);
	return r < 0 ? -1 : 0;
}
