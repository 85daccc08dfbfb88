/* dkim_canon_ref: see dkim_canon_ref.h. Deliberately simple, not fast:
 * find each line's CRLF, canonicalize the line, then drop the empty
 * lines at the end. */
#include "dkim_canon_ref.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool
ends_crlf(const uint8_t *o, size_t len, size_t at)
{
	return len >= at + 2 && o[len - at - 2] == '\r' &&
	    o[len - at - 1] == '\n';
}

uint8_t *
dkim_canon_body_ref(enum dkim_canon c, const uint8_t *p, size_t n,
    size_t *outlen)
{
	/* Never longer than the body and one added CRLF. */
	uint8_t *o = malloc(n + 2);
	size_t len = 0, i = 0, end, next, k;

	if (o == NULL)
		abort();
	while (i < n) {
		size_t start = len;
		bool crlf = false, wsp = false;

		/* The line: up to the first CRLF, or the rest. */
		for (end = i; end < n; end++)
			if (p[end] == '\r' && end + 1 < n && p[end + 1] == '\n') {
				crlf = true;
				break;
			}
		next = crlf ? end + 2 : n;
		for (k = i; k < end; k++) {
			if (c == DKIM_CANON_RELAXED &&
			    (p[k] == ' ' || p[k] == '\t')) {
				/* A WSP run is one SP, none at the line end. */
				wsp = true;
				continue;
			}
			if (wsp)
				o[len++] = ' ';
			wsp = false;
			o[len++] = p[k];
		}
		/* A last line without CRLF gets one, unless relaxed made it
		 * empty. */
		if (crlf || len > start) {
			o[len++] = '\r';
			o[len++] = '\n';
		}
		i = next;
	}
	/* Empty lines at the end go; an empty body is one CRLF (simple)
	 * or nothing (relaxed). */
	while (ends_crlf(o, len, 0) && ends_crlf(o, len, 2))
		len -= 2;
	if (c == DKIM_CANON_SIMPLE && len == 0) {
		o[len++] = '\r';
		o[len++] = '\n';
	}
	if (c == DKIM_CANON_RELAXED && len == 2 && ends_crlf(o, len, 0))
		len = 0;
	*outlen = len;
	return o;
}
