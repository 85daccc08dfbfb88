/* buf: a growable byte buffer with a hard maximum. Appending past the
 * maximum fails with -1 instead of growing, so input-driven buffers are
 * bounded by construction; callers turn -1 into a protocol error. */
#ifndef MOAT_BUF_H
#define MOAT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* hard limit on len; 0 = SIZE_MAX */
};

void buf_init(struct buf *b, size_t max);
void buf_deinit(struct buf *b);
/* Returns 0, or -1 when len would exceed max (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Insert n bytes at pos (<= len), the rest moving up. Returns 0, or -1
 * past max or with pos beyond the end (nothing changed). */
int buf_insert(struct buf *b, size_t pos, const void *p, size_t n);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* NUL-terminates the contents (not counted in len); -1 past max. */
int buf_cstr(struct buf *b, const char **s_r);

#endif
