/* dkim_canon_ref: the body canonicalizations of RFC 6376 3.4.3 and
 * 3.4.4 written the plain way, line by line over the whole body: the
 * model the streaming canonicalizer of dkim_canon.c is checked against
 * (test_dkim, fuzz_dkim). */
#ifndef MOAT_DKIM_CANON_REF_H
#define MOAT_DKIM_CANON_REF_H

#include <stddef.h>
#include <stdint.h>

#include "dkim.h"

/* The canonical form of the body p (n octets), malloc'ed, its length in
 * *outlen. Aborts when out of memory. */
uint8_t *dkim_canon_body_ref(enum dkim_canon c, const uint8_t *p, size_t n,
    size_t *outlen);

#endif
