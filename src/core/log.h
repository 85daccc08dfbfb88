/* log: one event per line on stderr, key=value style, with the process role
 * as prefix. log_warn appends strerror(errno); log_warnx does not. fatal()
 * is for broken invariants and environment failures at start-up only. */
#ifndef MOAT_LOG_H
#define MOAT_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *role, enum log_level level);
void log_set_role(const char *role);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *level_r);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Copy untrusted text into dst for logging: printable ASCII kept, anything
 * else as \xNN, truncated to fit (with "..." marker). Returns dst. */
const char *log_escape(char *dst, size_t dstlen, const void *src, size_t len);
#define LOG_ESC_MAX 256

#endif
