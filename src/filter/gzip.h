/* gzip: a streaming reader of gzip files (RFC 1952) for the attachment
 * scan. The file is pushed in as it arrives (from a MIME part, or from
 * the window of an archive member being decoded) and its content comes
 * out a window at a time, so a bomb costs at most what the caller's
 * sink allows and one window in memory: sizes written in the file are
 * never trusted. Several members one after the other are one content,
 * as gunzip writes them; octets after the last member that do not start
 * another one are ignored, as gunzip ignores them. The FNAME field of
 * the first member is kept: the name of the file that was compressed. */
#ifndef MOAT_GZIP_H
#define MOAT_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GZIP_NAME_MAX	4096	/* FNAME read, NUL included (longer: none) */
#define GZIP_WINDOW	65536	/* content octets per sink call, at most */

#define GZIP_MORE	0	/* gzip_feed: fed, more may follow */
#define GZIP_END	1	/* gzip_feed: the file ended, rest ignored */
#define GZIP_CORRUPT	2	/* bad data; what came before was handed out */

struct gzip_reader;

/* Called with each window of content; 0 go on, -1 stop. */
typedef int gzip_sink_cb(const uint8_t *p, size_t len, void *ctx);

/* True when p starts like a gzip member (magic and method deflate). */
bool gzip_is_gzip(const uint8_t *p, size_t len);
struct gzip_reader *gzip_new(void);
void gzip_free(struct gzip_reader **gp);
/* Inflate the next len octets of the file into sink. Returns GZIP_MORE,
 * GZIP_END, GZIP_CORRUPT, or -1 when sink stopped it; after anything
 * but GZIP_MORE further input is ignored. */
int gzip_feed(struct gzip_reader *g, const uint8_t *p, size_t len,
    gzip_sink_cb *sink, void *ctx);
/* The input is over. 0: it held complete members; GZIP_CORRUPT: it was
 * cut, damaged or stopped by the sink. */
int gzip_finish(const struct gzip_reader *g);
/* The first member's FNAME ("" when it has none, when its header has
 * not been read whole, or when it is too long to know its end: the
 * end, the extension, is what matters); ISO 8859-1 as written, not
 * cleaned. */
const char *gzip_name(const struct gzip_reader *g);
/* Octets of the file read so far (the inflater's input: the work). */
uint64_t gzip_in(const struct gzip_reader *g);

#endif
