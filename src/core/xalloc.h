/* xalloc: allocation wrappers that abort on out-of-memory, so callers never
 * handle NULL from an allocator (every peer we admire does the same). */
#ifndef MOAT_XALLOC_H
#define MOAT_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
