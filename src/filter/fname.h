/* fname: the file names of attachments and archive members, as kept for
 * the attachment policy and the log: a name longer than its buffer
 * keeps its END behind "..." (the extension is what name rules look
 * at, and padding the front is how one would push it out of sight). */
#ifndef MOAT_FNAME_H
#define MOAT_FNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNAME_CUT	"..."	/* in front of a name that lost its start */

/* dst (cap octets, cap > sizeof(FNAME_CUT)) = the name p (n octets, up
 * to a NUL in them), NUL-terminated; cut says p itself is already the
 * end of a longer name. Octets are copied as they are. */
void fname_keep(char *dst, size_t cap, const uint8_t *p, size_t n,
    bool cut);

/* A name arriving in pieces: buf (size octets, no NUL kept) holds the
 * latest *len octets of it, at least the last size / 2 once it is that
 * long; *cut is set once earlier octets were dropped. Then
 * fname_keep(dst, cap, buf, *len, *cut) with cap <= size / 2 + 1.
 * Old octets are dropped half a buffer at a time, so a long name costs
 * time in its length, not in its length times the buffer. */
void fname_push(char *buf, size_t size, size_t *len, bool *cut,
    const uint8_t *p, size_t n);

#endif
