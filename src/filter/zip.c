/* zip: see zip.h. Formats from PKWARE's APPNOTE.TXT: the end of central
 * directory record (4.3.16), its zip64 form (4.3.14-15), central
 * directory headers (4.3.12), local file headers (4.3.7). Every offset
 * read from the archive is checked against the buffer before use. */
#include "zip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fname.h"
#include "xalloc.h"

#define SIG_LOCAL	0x04034b50u
#define SIG_CENTRAL	0x02014b50u
#define SIG_EOCD	0x06054b50u
#define SIG_EOCD64	0x06064b50u
#define SIG_LOC64	0x07064b50u
#define EOCD_LEN	22
#define EOCD_COMMENT_MAX 65535
#define EOCD64_LEN	56
#define CENTRAL_LEN	46
#define LOCAL_LEN	30
#define FLAG_ENCRYPTED	0x0001
#define FLAG_DESCRIPTOR	0x0008
#define METHOD_AES	99	/* WinZip AES: always encrypted */
#define NO_DIRECTORY	4	/* walk_central: none to walk */

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

/* A member's name: its end kept when too long (fname.h), control
 * octets as '_'. */
static void
copy_name(char *dst, const uint8_t *p, size_t n)
{
	size_t i;

	fname_keep(dst, ZIP_NAME_MAX, p, n, false);
	for (i = 0; dst[i] != '\0'; i++)
		if ((uint8_t)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '_';
}

/* How much of the region (the octets up to the next member) is the
 * member's data: a stored member's declared size, within the region; a
 * deflated stream ends where it says, so a declared size that lies
 * cannot hide content from the scan, while the region still bounds what
 * is read. */
static size_t
member_len(const struct zip_member *m, uint64_t csize, uint64_t region)
{
	if (m->method == ZIP_DEFLATED || csize >= region)
		return (size_t)region;
	return (size_t)csize;
}

/* For the walk without a central directory: the member's data from its
 * local header at off (after the header's own name and extra field).
 * Its region ends at the next local header when csize leads to one;
 * otherwise it is the last member found and may run to the end. */
static int
member_at(const uint8_t *p, size_t len, uint64_t off, uint64_t csize,
    struct zip_member *m)
{
	uint64_t data_off, region;

	if (off > len || len - off < LOCAL_LEN || get32(p + off) != SIG_LOCAL)
		return -1;
	data_off = off + LOCAL_LEN + get16(p + off + 26) +
	    get16(p + off + 28);
	if (data_off > len)
		return -1;
	region = len - data_off;
	if (csize < region && region - csize >= 4 &&
	    get32(p + data_off + csize) == SIG_LOCAL)
		region = csize;
	m->data = p + data_off;
	m->data_len = member_len(m, csize, region);
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

/* One central directory entry as the pre-pass read it. */
struct entry {
	uint64_t	 pos;		/* of its central header */
	uint64_t	 off;		/* of its local header, shifted */
	uint64_t	 data_off;	/* UINT64_MAX: no local header */
	uint64_t	 end;		/* data_off + csize, within the zip */
	uint64_t	 region;	/* where the next member starts */
	uint64_t	 csize;
};

/* Where the central directory is: cd_off as the end record says, plus
 * delta when octets were put in front of the archive (a self-extracting
 * stub, a stray prefix). Info-ZIP and Python take delta as the end
 * record's position minus the directory's size minus cd_off; the
 * directory is looked for there first, then where cd_off says. */
struct cdir {
	uint64_t	 off;		/* of the first central header */
	uint64_t	 n;		/* entries */
	uint64_t	 delta;		/* added to every offset */
};

static bool
central_at(const uint8_t *p, size_t len, uint64_t at)
{
	return at <= len && len - at >= 4 && get32(p + at) == SIG_CENTRAL;
}

/* 0: *cd found; -1: the end record points at no central directory. */
static int
find_cdir(const uint8_t *p, size_t len, size_t eocd, struct cdir *cd)
{
	uint64_t cd_off = get32(p + eocd + 16), n = get16(p + eocd + 10);
	uint64_t cd_size = get32(p + eocd + 12), end = eocd, l64;

	if ((cd_off == UINT32_MAX || n == UINT16_MAX ||
	    cd_size == UINT32_MAX) && eocd >= 20 &&
	    get32(p + eocd - 20) == SIG_LOC64) {
		l64 = get64(p + eocd - 20 + 8);
		/* shifted by a prefix, it is usually right before the
		 * locator */
		if ((l64 > len || len - l64 < EOCD64_LEN ||
		    get32(p + l64) != SIG_EOCD64) && eocd >= 20 + EOCD64_LEN)
			l64 = eocd - 20 - EOCD64_LEN;
		if (l64 <= len && len - l64 >= EOCD64_LEN &&
		    get32(p + l64) == SIG_EOCD64) {
			n = get64(p + l64 + 32);
			cd_size = get64(p + l64 + 40);
			cd_off = get64(p + l64 + 48);
			end = l64;
		}
	}
	cd->n = n;
	if (cd_size <= end && cd_off < end - cd_size &&
	    central_at(p, len, end - cd_size)) {
		cd->delta = end - cd_size - cd_off;
		cd->off = end - cd_size;
		return 0;
	}
	if (central_at(p, len, cd_off) || n == 0) {
		cd->delta = 0;
		cd->off = cd_off;
		return 0;
	}
	return -1;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Read at most room central directory entries into e[] (*n_r of them).
 * 1: it is damaged after those. */
static int
read_central(const uint8_t *p, size_t len, const struct cdir *cd,
    uint64_t room, struct entry *e, size_t *n_r)
{
	uint64_t i, pos = cd->off, off, lh;
	uint32_t usize;
	uint16_t nlen, xlen, clen;

	*n_r = 0;
	for (i = 0; i < room; i++) {
		if (pos > len || len - pos < CENTRAL_LEN ||
		    get32(p + pos) != SIG_CENTRAL)
			return 1;
		nlen = get16(p + pos + 28);
		xlen = get16(p + pos + 30);
		clen = get16(p + pos + 32);
		if (len - pos - CENTRAL_LEN < (uint64_t)nlen + xlen + clen)
			return 1;
		e[i].pos = pos;
		e[i].csize = get32(p + pos + 20);
		usize = get32(p + pos + 24);
		off = get32(p + pos + 42);
		zip64_extra(p + pos + CENTRAL_LEN + nlen, xlen, usize,
		    &e[i].csize, &off);
		e[i].off = off <= len - cd->delta ? off + cd->delta : len;
		e[i].data_off = UINT64_MAX;
		lh = e[i].off;
		if (lh <= len && len - lh >= LOCAL_LEN &&
		    get32(p + lh) == SIG_LOCAL) {
			e[i].data_off = lh + LOCAL_LEN + get16(p + lh + 26) +
			    get16(p + lh + 28);
			if (e[i].data_off > len)
				e[i].data_off = UINT64_MAX;
		}
		if (e[i].data_off == UINT64_MAX)
			e[i].end = e[i].off;
		else
			e[i].end = e[i].csize < len - e[i].data_off ?
			    e[i].data_off + e[i].csize : len;
		pos += CENTRAL_LEN + (uint64_t)nlen + xlen + clen;
		*n_r = (size_t)i + 1;
	}
	return 0;
}

/* Members that share octets with each other or with the central
 * directory are how bombs make one compressed stream count many times:
 * no archive writer produces them. Each member's region (where the next
 * one, or the directory, begins) bounds how far its data may be read.
 * true: they overlap. */
static bool
regions(struct entry *e, size_t n, uint64_t cd_off, size_t len)
{
	struct entry **by;
	uint64_t next;
	size_t i, j;
	bool overlap = false;

	if (n == 0)
		return false;
	by = xreallocarray(NULL, n, sizeof(*by));
	for (i = 0; i < n; i++)
		by[i] = &e[i];
	qsort(by, n, sizeof(*by), entry_cmp);
	for (i = 0; i < n && !overlap; i++) {
		if (by[i]->data_off == UINT64_MAX)
			continue;	/* not found: never read */
		next = len;
		for (j = i + 1; j < n; j++)
			if (by[j]->data_off != UINT64_MAX) {
				next = by[j]->off;
				break;
			}
		if (by[i]->off < cd_off && cd_off < next)
			next = cd_off;
		if (by[i]->end > next)
			overlap = true;
		by[i]->region = next < len ? next : len;
	}
	free(by);
	return overlap;
}

static int
walk_central(const uint8_t *p, size_t len, size_t eocd, zip_member_cb *cb,
    void *ctx)
{
	struct zip_member m;
	struct cdir cd;
	struct entry *e;
	uint64_t pos, room;
	size_t i, n;
	uint16_t flags;
	int damaged, r = 0;

	if (find_cdir(p, len, eocd, &cd) < 0)
		return NO_DIRECTORY;
	/* no more entries than the directory's octets can hold */
	room = cd.off < len ? (len - cd.off) / CENTRAL_LEN : 0;
	if (room > cd.n)
		room = cd.n;
	if (room > ZIP_MEMBERS_MAX)
		room = ZIP_MEMBERS_MAX;
	e = xreallocarray(NULL, room + 1, sizeof(*e));
	damaged = read_central(p, len, &cd, room, e, &n);
	if (n == 0 && damaged) {
		free(e);
		return NO_DIRECTORY;
	}
	if (regions(e, n, cd.off, len)) {
		free(e);
		return ZIP_OVERLAP;
	}
	for (i = 0; i < n && r == 0; i++) {
		pos = e[i].pos;
		flags = get16(p + pos + 8);
		memset(&m, 0, sizeof(m));
		m.method = get16(p + pos + 10);
		m.encrypted = (flags & FLAG_ENCRYPTED) != 0 ||
		    m.method == METHOD_AES;
		copy_name(m.name, p + pos + CENTRAL_LEN, get16(p + pos + 28));
		if (e[i].data_off != UINT64_MAX) {
			/* a member we cannot find is still named */
			m.data = p + e[i].data_off;
			m.data_len = member_len(&m, e[i].csize,
			    e[i].region - e[i].data_off);
		}
		if (cb(&m, ctx) < 0)
			r = -1;
	}
	free(e);
	return r != 0 ? r : damaged;
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
	int r;

	/* without a usable directory, the local headers (members are
	 * reported once: never both ways) */
	if (find_eocd(p, len, &eocd) == 0 &&
	    (r = walk_central(p, len, eocd, cb, ctx)) != NO_DIRECTORY)
		return r;
	return walk_local(p, len, cb, ctx);
}

bool
zip_is_archive(const uint8_t *p, size_t len)
{
	struct cdir cd;
	size_t eocd;

	if (len >= 4 && get32(p) == SIG_LOCAL)
		return true;
	return find_eocd(p, len, &eocd) == 0 &&
	    find_cdir(p, len, eocd, &cd) == 0 && cd.n > 0;
}

/* Hand out at most max_out - out octets; 1 when that cut the window. */
static int
emit(const uint8_t *p, size_t n, struct zip_read *rd, zip_sink_cb *sink,
    void *ctx)
{
	int over = 0;

	if (n > rd->max_out - rd->out) {
		n = (size_t)(rd->max_out - rd->out);
		over = 1;
	}
	if (n > 0 && sink(p, n, ctx) < 0)
		return -1;
	rd->out += n;
	return over;
}

/* How many of want octets may still be read from the archive. */
static size_t
work_left(const struct zip_read *rd, size_t want)
{
	uint64_t left = rd->max_in > rd->in ? rd->max_in - rd->in : 0;

	return want < left ? want : (size_t)left;
}

static int
read_stored(const struct zip_member *m, struct zip_read *rd,
    zip_sink_cb *sink, void *ctx)
{
	size_t pos = 0, n;
	int r;

	while (pos < m->data_len) {
		n = work_left(rd, m->data_len - pos < ZIP_WINDOW ?
		    m->data_len - pos : ZIP_WINDOW);
		if (n == 0)
			return 3;
		rd->in += n;
		if ((r = emit(m->data + pos, n, rd, sink, ctx)) != 0)
			return r;
		pos += n;
	}
	return 0;
}

/* The input goes in ZIP_WINDOW at a time, so that a stream that
 * inflates to nothing (empty stored blocks) still meets the budget. */
static int
read_deflated(const struct zip_member *m, struct zip_read *rd,
    zip_sink_cb *sink, void *ctx)
{
	z_stream z;
	uint8_t *win;
	size_t left = m->data_len, n;
	const uint8_t *in = m->data;
	int zr, r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -MAX_WBITS) != Z_OK)	/* raw deflate */
		return 2;
	win = xmalloc(ZIP_WINDOW);
	for (;;) {
		if (z.avail_in == 0 && left > 0) {
			if ((n = work_left(rd, left < ZIP_WINDOW ? left :
			    ZIP_WINDOW)) == 0) {
				r = 3;
				break;
			}
			z.next_in = (Bytef *)(uintptr_t)in;
			z.avail_in = (uInt)n;
			in += n;
			left -= n;
			rd->in += n;	/* given; the unused rest is taken
					   back below */
		}
		z.next_out = win;
		z.avail_out = ZIP_WINDOW;
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			r = 2;		/* corrupt */
			break;
		}
		if ((r = emit(win, ZIP_WINDOW - z.avail_out, rd, sink,
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
	rd->in -= z.avail_in;
	inflateEnd(&z);
	free(win);
	return r;
}

int
zip_member_read(const struct zip_member *m, struct zip_read *rd,
    zip_sink_cb *sink, void *ctx)
{
	rd->out = 0;
	rd->in = 0;
	if (m->encrypted || m->data == NULL)
		return 2;
	switch (m->method) {
	case ZIP_STORED:
		return read_stored(m, rd, sink, ctx);
	case ZIP_DEFLATED:
		return read_deflated(m, rd, sink, ctx);
	default:
		return 2;
	}
}
