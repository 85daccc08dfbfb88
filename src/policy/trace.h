/* trace: the decision trace of one session: each check it went through
 * (screening, bans, rules, SPF/DMARC ...), its input and its verdict, as
 * short lines. Kept in memory, bounded, and written to the database only
 * when the session is refused, under the reference quoted in the reply
 * ("[ref 7K2QX9AB]") so that "moatctl log show REF" can explain it. */
#ifndef MOAT_TRACE_H
#define MOAT_TRACE_H

#include <stddef.h>

#define TRACE_MAX	4096	/* bytes per session; later lines dropped */
#define TRACE_REF_LEN	8	/* Crockford base32 characters */

struct trace {
	char	*buf;		/* allocated on the first line */
	size_t	 len;
	unsigned dropped;	/* lines that did not fit */
};

/* Append "check: text" (text from fmt; client input in it is made
 * printable). */
void trace_add(struct trace *t, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The text so far ("" when empty); valid until the next trace_add. */
const char *trace_text(const struct trace *t);
void trace_free(struct trace *t);
/* The reference of a session: 40 bits of its (random, hex) id in
 * base32 without look-alike letters. out holds TRACE_REF_LEN + 1. */
void trace_ref(const char *session_id, char *out);

#endif
