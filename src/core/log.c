/* log: line-oriented logging to stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_role[32] = "moat";
static enum log_level log_min = LOG_LEVEL_INFO;

void
log_init(const char *role, enum log_level level)
{
	log_set_role(role);
	log_min = level;
}

void
log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

int
log_level_parse(const char *s, enum log_level *level_r)
{
	if (strcmp(s, "warn") == 0)
		*level_r = LOG_LEVEL_WARN;
	else if (strcmp(s, "info") == 0)
		*level_r = LOG_LEVEL_INFO;
	else if (strcmp(s, "debug") == 0)
		*level_r = LOG_LEVEL_DEBUG;
	else
		return -1;
	return 0;
}

static void log_vwrite(const char *, const char *, va_list, const char *)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(const char *level, const char *fmt, va_list ap, const char *err)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_role,
	    (long)getpid(), level);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n = (size_t)n + (size_t)m >= sizeof(line) ? (int)sizeof(line) - 1 :
	    n + m;
	if (err != NULL) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s", err);
		if (m > 0)
			n = (size_t)n + (size_t)m >= sizeof(line) ?
			    (int)sizeof(line) - 1 : n + m;
	}
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines from several processes do not mix. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nowhere left to report it. */
	}
}

#define LOG_BODY(levelname, minlevel, err)                     \
	do {                                                   \
		va_list ap;                                    \
		if (log_min < (minlevel))                      \
			return;                                \
		va_start(ap, fmt);                             \
		log_vwrite(levelname, fmt, ap, err);           \
		va_end(ap);                                    \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY("warn", LOG_LEVEL_WARN, err);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY("warn", LOG_LEVEL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY("info", LOG_LEVEL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY("debug", LOG_LEVEL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

const char *
log_escape(char *dst, size_t dstlen, const void *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t i, o = 0, need = 0;

	if (dstlen == 0)
		return dst;
	/* Truncate only when the escaped text does not fit whole. */
	for (i = 0; i < len && need < dstlen; i++)
		need += s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' ? 1 : 4;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (need >= dstlen && o + 8 >= dstlen) {
			if (dstlen >= 4) {
				o = o > dstlen - 4 ? dstlen - 4 : o;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
