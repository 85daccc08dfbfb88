/* gzip: see gzip.h. zlib reads the member headers and trailers (RFC
 * 1952 2.3: FEXTRA, FNAME, FCOMMENT, FHCRC; CRC32 and ISIZE checked);
 * this file feeds it, a window of output at a time, and moves from one
 * member to the next. */
#include "gzip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "xalloc.h"

enum gzip_state {
	GZ_RUN = 0,	/* inside a member, or between two */
	GZ_END,		/* done: the rest is ignored */
	GZ_BAD,		/* corrupt, or the sink stopped */
};

struct gzip_reader {
	z_stream	 z;
	gz_header	 head;		/* the first member's */
	gz_header	 scratch;	/* later members' headers */
	unsigned char	 name[GZIP_NAME_MAX];
	uint8_t		*win;
	enum gzip_state	 state;
	unsigned	 members;	/* ended so far */
	uint64_t	 since_reset;	/* input read in this member */
	uint64_t	 in;
};

bool
gzip_is_gzip(const uint8_t *p, size_t len)
{
	return len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

struct gzip_reader *
gzip_new(void)
{
	struct gzip_reader *g = xcalloc(1, sizeof(*g));

	/* 16 + MAX_WBITS: a gzip wrapper only, no zlib or raw stream */
	if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK)
		abort();	/* out of memory */
	g->head.name = g->name;
	g->head.name_max = GZIP_NAME_MAX - 1;	/* the last stays NUL */
	if (inflateGetHeader(&g->z, &g->head) != Z_OK)
		abort();
	g->win = xmalloc(GZIP_WINDOW);
	return g;
}

void
gzip_free(struct gzip_reader **gp)
{
	struct gzip_reader *g = *gp;

	if (g == NULL)
		return;
	inflateEnd(&g->z);
	free(g->win);
	free(g);
	*gp = NULL;
}

/* A member ended: the next one starts with a fresh header. */
static void
next_member(struct gzip_reader *g)
{
	g->members++;
	g->since_reset = 0;
	if (inflateReset(&g->z) != Z_OK)
		abort();
	memset(&g->scratch, 0, sizeof(g->scratch));
	if (inflateGetHeader(&g->z, &g->scratch) != Z_OK)
		abort();
}

int
gzip_feed(struct gzip_reader *g, const uint8_t *p, size_t len,
    gzip_sink_cb *sink, void *ctx)
{
	size_t out;
	uInt given;
	bool full = false;
	int zr;

	if (g->state != GZ_RUN)
		return g->state == GZ_END ? GZIP_END : GZIP_CORRUPT;
	/* A full window may leave output inside zlib: ask again, with or
	 * without input. */
	while (len > 0 || full) {
		given = len > UINT_MAX ? UINT_MAX : (uInt)len;
		g->z.next_in = (Bytef *)(uintptr_t)p;
		g->z.avail_in = given;
		g->z.next_out = g->win;
		g->z.avail_out = GZIP_WINDOW;
		zr = inflate(&g->z, Z_NO_FLUSH);
		/* UNSAFE: zlib consumed given - avail_in <= len octets */
		p += given - g->z.avail_in;
		len -= given - g->z.avail_in;
		g->in += given - g->z.avail_in;
		g->since_reset += given - g->z.avail_in;
		out = GZIP_WINDOW - g->z.avail_out;
		full = out == GZIP_WINDOW;
		/* what came out before an error (a bad CRC comes last) */
		if (out > 0 && sink(g->win, out, ctx) < 0) {
			g->state = GZ_BAD;
			return -1;
		}
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			/* Not a member where one could start: trailing
			 * octets after the file, which gunzip ignores. */
			if (g->members > 0 && g->scratch.done != 1) {
				g->in -= g->since_reset;
				g->state = GZ_END;
				return GZIP_END;
			}
			g->state = GZ_BAD;
			return GZIP_CORRUPT;
		}
		if (zr == Z_STREAM_END)
			next_member(g);
		else if (out == 0 && g->z.avail_in > 0 && zr == Z_BUF_ERROR) {
			/* cannot happen with room for output: no progress
			 * must never loop */
			g->state = GZ_BAD;
			return GZIP_CORRUPT;
		}
	}
	return GZIP_MORE;
}

int
gzip_finish(const struct gzip_reader *g)
{
	if (g->state == GZ_END)
		return 0;
	if (g->state == GZ_BAD)
		return GZIP_CORRUPT;
	/* complete members, then nothing (or not a header's worth) */
	return g->members > 0 && g->since_reset == 0 ? 0 : GZIP_CORRUPT;
}

const char *
gzip_name(const struct gzip_reader *g)
{
	/* zlib keeps the first name_max octets of a longer name */
	return g->head.done == 1 && memchr(g->name, '\0',
	    GZIP_NAME_MAX - 1) != NULL ? (const char *)g->name : "";
}

uint64_t
gzip_in(const struct gzip_reader *g)
{
	return g->in;
}
