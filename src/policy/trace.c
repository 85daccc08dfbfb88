/* trace: bounded per-session decision traces and their references. */
#include "trace.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

#define TRACE_LINE_MAX	512

void
trace_add(struct trace *t, const char *check, const char *fmt, ...)
{
	char line[TRACE_LINE_MAX], text[TRACE_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t i;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	for (i = 0; text[i] != '\0'; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = '?';
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: %s\n",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, check,
	    text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	if (t->buf == NULL)
		t->buf = xmalloc(TRACE_MAX);
	if (t->len + (size_t)n + 1 > TRACE_MAX) {
		t->dropped++;
		return;
	}
	memcpy(t->buf + t->len, line, (size_t)n);
	t->len += (size_t)n;
	t->buf[t->len] = '\0';
}

const char *
trace_text(const struct trace *t)
{
	return t->buf != NULL ? t->buf : "";
}

void
trace_free(struct trace *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = 0;
	t->dropped = 0;
}

void
trace_ref(const char *session_id, char *out)
{
	/* Crockford's alphabet: no I, L, O, U to misread on a phone. */
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	uint64_t v = 0;
	unsigned i, d;

	for (i = 0; i < 10 && session_id[i] != '\0'; i++) {
		char c = session_id[i];

		d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
		    c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
		    c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) :
		    (unsigned char)c % 16;
		v = v << 4 | d;
	}
	for (i = 0; i < TRACE_REF_LEN; i++)
		out[i] = alphabet[(v >> (5 * (TRACE_REF_LEN - 1 - i))) & 31];
	out[TRACE_REF_LEN] = '\0';
}
