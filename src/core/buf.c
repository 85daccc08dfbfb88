/* buf: bounded growable byte buffer. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX;
}

void
buf_deinit(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (__builtin_add_overflow(b->len, extra, &need) || need > b->max)
		return -1;
	if (need < b->cap)	/* always one spare byte for a NUL */
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need + 1)
		cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	/* The NUL is not content: it must not count against max. */
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	/* buf_reserve left room for n bytes plus the NUL vsnprintf writes. */
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int
buf_insert(struct buf *b, size_t pos, const void *p, size_t n)
{
	size_t old = b->len;

	if (pos > old || buf_append(b, p, n) < 0)
		return -1;
	/* UNSAFE: the buffer grew by n; the tail moves up by n. */
	memmove(b->data + pos + n, b->data + pos, old - pos);
	memcpy(b->data + pos, p, n);
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

int
buf_cstr(struct buf *b, const char **s_r)
{
	if (b->len == b->max)
		return -1;
	if (buf_reserve(b, 1) < 0)
		return -1;
	b->data[b->len] = '\0';
	*s_r = (const char *)b->data;
	return 0;
}
