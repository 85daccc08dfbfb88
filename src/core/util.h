/* util: small string and number helpers that libc lacks or gets wrong:
 * bounded copies, range-checked number parsing, ASCII case helpers. */
#ifndef MOAT_UTIL_H
#define MOAT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <stdint.h>

size_t moat_strlcpy(char *dst, const char *src, size_t size);
size_t moat_strlcat(char *dst, const char *src, size_t size);

/* Parse a decimal unsigned integer in [min, max]; the whole string must be
 * digits. Returns 0, or -1 with *error_r set. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r);
/* Like parse_u64 but accepts a size suffix k/K, m/M, g/G (binary). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r);
/* Accepts a duration with suffix s, m, h, d (no suffix: seconds). */
int parse_duration(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r);
int parse_bool(const char *s, bool *v_r);

void ascii_lower(char *s);
bool ascii_ieq(const char *a, const char *b);
bool ascii_nieq(const char *a, const char *b, size_t n);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* fsync a directory by path. */
int fsync_dir(const char *path);
/* mkdir -p with the given mode; existing directories are fine. */
int mkdir_p(const char *path, unsigned mode);

/* Lists in config values: items separated by commas, spaces or tabs
 * ("a, b,c"). conf_list_each calls cb with each item (not NUL-terminated)
 * until cb returns true, and returns that. conf_list_has: is name an item
 * (ASCII case-insensitive)? With star, an item "*" matches any name. */
bool conf_list_each(const char *list,
    bool (*cb)(void *ctx, const char *item, size_t len), void *ctx);
bool conf_list_has(const char *list, const char *name, bool star);

/* t as UTC ISO 8601 ("2026-11-28T03:04:05Z") into buf (at least 21
 * octets); the number of seconds when it cannot be shown so. */
void time_iso(time_t t, char *buf, size_t len);

#endif
