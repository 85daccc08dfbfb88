/* zip: see zip.h. Formats from PKWARE's APPNOTE.TXT: the end of central
 * directory record (4.3.16), its zip64 form (4.3.14-15), central
 * directory headers (4.3.12), local file headers (4.3.7). Every offset
 * read from the archive is checked against the buffer before use. */
#include "zip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "xalloc.h"

#define SIG_LOCAL	0x04034b50u
#define SIG_CENTRAL	0x02014b50u
#define SIG_EOCD	0x06054b50u
#define SIG_EOCD64	0x06064b50u
#define SIG_LOC64	0x07064b50u
#define EOCD_LEN	22
#define EOCD_COMMENT_MAX 65535
#define CENTRAL_LEN	46
#define LOCAL_LEN	30
#define FLAG_ENCRYPTED	0x0001
#define FLAG_DESCRIPTOR	0x0008
#define METHOD_AES	99	/* WinZip AES: always encrypted */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

bool
zip_is_zip(const uint8_t *p, size_t len)
{
	return len >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) ||
	    (p[2] == 7 && p[3] == 8));
}

static void
copy_name(char *dst, const uint8_t *p, size_t n)
{
	size_t i;

	if (n >= ZIP_NAME_MAX)
		n = ZIP_NAME_MAX - 1;
	for (i = 0; i < n; i++)
		dst[i] = p[i] < 0x20 || p[i] == 0x7f ? '_' : (char)p[i];
	dst[n] = '\0';
}

/* The member's data from its local header at off: data starts after the
 * header's own name and extra field (which may differ from the central
 * directory's). csize is trusted only as an upper bound inside the
 * buffer; deflated data ends where the stream says it does. */
static int
member_at(const uint8_t *p, size_t len, uint64_t off, uint64_t csize,
    struct zip_member *m)
{
	uint64_t data_off;

	if (off > len || len - off < LOCAL_LEN || get32(p + off) != SIG_LOCAL)
		return -1;
	data_off = off + LOCAL_LEN + get16(p + off + 26) +
	    get16(p + off + 28);
	if (data_off > len)
		return -1;
	m->data = p + data_off;
	m->data_len = len - data_off;
	if (m->method != ZIP_DEFLATED && csize < m->data_len)
		m->data_len = (size_t)csize;
	return 0;
}

/* The zip64 extended information extra field (APPNOTE 4.5.3) holds the
 * 64-bit values of those fields that are 0xFFFFFFFF, in this order. */
static void
zip64_extra(const uint8_t *x, size_t n, uint32_t usize, uint64_t *csize,
    uint64_t *off)
{
	size_t i = 0, at;
	uint16_t id, sz;

	while (n - i >= 4) {
		id = get16(x + i);
		sz = get16(x + i + 2);
		if (sz > n - i - 4)
			return;
		if (id == 0x0001) {
			at = i + 4;
			if (usize == UINT32_MAX)
				at += 8;
			if (*csize == UINT32_MAX && at + 8 <= i + 4 + sz) {
				*csize = get64(x + at);
				at += 8;
			}
			if (*off == UINT32_MAX && at + 8 <= i + 4 + sz)
				*off = get64(x + at);
			return;
		}
		i += 4 + (size_t)sz;
	}
}

/* The end of central directory record, searched backwards over the
 * longest possible comment. -1: none. */
static int
find_eocd(const uint8_t *p, size_t len, size_t *at_r)
{
	size_t i, lo;

	if (len < EOCD_LEN)
		return -1;
	lo = len - EOCD_LEN > EOCD_COMMENT_MAX ? len - EOCD_LEN -
	    EOCD_COMMENT_MAX : 0;
	for (i = len - EOCD_LEN + 1; i-- > lo;)
		if (get32(p + i) == SIG_EOCD) {
			*at_r = i;
			return 0;
		}
	return -1;
}

static int
walk_central(const uint8_t *p, size_t len, size_t eocd, zip_member_cb *cb,
    void *ctx)
{
	struct zip_member m;
	uint64_t cd_off = get32(p + eocd + 16), n = get16(p + eocd + 10);
	uint64_t i, off, pos, csize, l64;
	uint32_t usize;
	uint16_t nlen, xlen, clen, flags;

	if ((cd_off == UINT32_MAX || n == UINT16_MAX) && eocd >= 20 &&
	    get32(p + eocd - 20) == SIG_LOC64) {
		l64 = get64(p + eocd - 20 + 8);
		if (l64 <= len && len - l64 >= 56 &&
		    get32(p + l64) == SIG_EOCD64) {
			n = get64(p + l64 + 32);
			cd_off = get64(p + l64 + 48);
		}
	}
	if (n > ZIP_MEMBERS_MAX)
		n = ZIP_MEMBERS_MAX;
	pos = cd_off;
	for (i = 0; i < n; i++) {
		if (pos > len || len - pos < CENTRAL_LEN ||
		    get32(p + pos) != SIG_CENTRAL)
			return 1;
		flags = get16(p + pos + 8);
		nlen = get16(p + pos + 28);
		xlen = get16(p + pos + 30);
		clen = get16(p + pos + 32);
		if (len - pos - CENTRAL_LEN < (uint64_t)nlen + xlen + clen)
			return 1;
		memset(&m, 0, sizeof(m));
		m.method = get16(p + pos + 10);
		m.encrypted = (flags & FLAG_ENCRYPTED) != 0 ||
		    m.method == METHOD_AES;
		copy_name(m.name, p + pos + CENTRAL_LEN, nlen);
		csize = get32(p + pos + 20);
		usize = get32(p + pos + 24);
		off = get32(p + pos + 42);
		zip64_extra(p + pos + CENTRAL_LEN + nlen, xlen, usize, &csize,
		    &off);
		if (member_at(p, len, off, csize, &m) < 0) {
			/* a member we cannot find is still named */
			m.data = NULL;
			m.data_len = 0;
		}
		if (cb(&m, ctx) < 0)
			return -1;
		pos += CENTRAL_LEN + (uint64_t)nlen + xlen + clen;
	}
	return 0;
}

/* No central directory (a truncated or streamed archive): the local
 * headers in order, as far as their sizes can be followed. */
static int
walk_local(const uint8_t *p, size_t len, zip_member_cb *cb, void *ctx)
{
	struct zip_member m;
	size_t pos = 0, i;
	uint16_t flags, nlen;
	uint64_t csize;

	for (i = 0; i < ZIP_MEMBERS_MAX; i++) {
		if (len - pos < LOCAL_LEN || get32(p + pos) != SIG_LOCAL)
			return i == 0 ? 1 : 0;
		memset(&m, 0, sizeof(m));
		flags = get16(p + pos + 6);
		m.method = get16(p + pos + 8);
		m.encrypted = (flags & FLAG_ENCRYPTED) != 0 ||
		    m.method == METHOD_AES;
		csize = get32(p + pos + 18);
		nlen = get16(p + pos + 26);
		if (len - pos - LOCAL_LEN < nlen)
			return 1;
		copy_name(m.name, p + pos + LOCAL_LEN, nlen);
		if ((flags & FLAG_DESCRIPTOR) != 0 || csize == UINT32_MAX)
			csize = UINT64_MAX;	/* unknown: the rest */
		if (member_at(p, len, pos, csize, &m) < 0)
			return 1;
		if (cb(&m, ctx) < 0)
			return -1;
		if (csize == UINT64_MAX || csize > len - (size_t)(m.data - p))
			return 0;	/* the next header cannot be found */
		pos = (size_t)(m.data - p) + (size_t)csize;
	}
	return 0;
}

int
zip_walk(const uint8_t *p, size_t len, zip_member_cb *cb, void *ctx)
{
	size_t eocd;

	if (find_eocd(p, len, &eocd) == 0)
		return walk_central(p, len, eocd, cb, ctx);
	return walk_local(p, len, cb, ctx);
}

/* Hand out at most max - *total octets; 1 when that cut the window. */
static int
emit(const uint8_t *p, size_t n, uint64_t max, uint64_t *total,
    zip_sink_cb *sink, void *ctx)
{
	int over = 0;

	if (n > max - *total) {
		n = (size_t)(max - *total);
		over = 1;
	}
	if (n > 0 && sink(p, n, ctx) < 0)
		return -1;
	*total += n;
	return over;
}

static int
read_stored(const struct zip_member *m, uint64_t max, zip_sink_cb *sink,
    void *ctx, uint64_t *total)
{
	size_t pos = 0, n;
	int r;

	while (pos < m->data_len) {
		n = m->data_len - pos < ZIP_WINDOW ? m->data_len - pos :
		    ZIP_WINDOW;
		if ((r = emit(m->data + pos, n, max, total, sink, ctx)) != 0)
			return r;
		pos += n;
	}
	return 0;
}

static int
read_deflated(const struct zip_member *m, uint64_t max, zip_sink_cb *sink,
    void *ctx, uint64_t *total)
{
	z_stream z;
	uint8_t *win;
	size_t left = m->data_len;
	const uint8_t *in = m->data;
	int zr, r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -MAX_WBITS) != Z_OK)	/* raw deflate */
		return 2;
	win = xmalloc(ZIP_WINDOW);
	for (;;) {
		if (z.avail_in == 0 && left > 0) {
			z.next_in = (Bytef *)(uintptr_t)in;
			z.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			in += z.avail_in;
			left -= z.avail_in;
		}
		z.next_out = win;
		z.avail_out = ZIP_WINDOW;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			r = 2;		/* corrupt */
			break;
		}
		if ((r = emit(win, ZIP_WINDOW - z.avail_out, max, total, sink,
		    ctx)) != 0)
			break;
		if (zr == Z_STREAM_END)
			break;
		/* No output room was used and no input is left: the
		 * stream is truncated (and cannot loop forever). */
		if (z.avail_out == ZIP_WINDOW && z.avail_in == 0 &&
		    left == 0) {
			r = 2;
			break;
		}
	}
	inflateEnd(&z);
	free(win);
	return r;
}

int
zip_member_read(const struct zip_member *m, uint64_t max, zip_sink_cb *sink,
    void *ctx, uint64_t *total_r)
{
	*total_r = 0;
	if (m->encrypted || m->data == NULL)
		return 2;
	switch (m->method) {
	case ZIP_STORED:
		return read_stored(m, max, sink, ctx, total_r);
	case ZIP_DEFLATED:
		return read_deflated(m, max, sink, ctx, total_r);
	default:
		return 2;
	}
}
