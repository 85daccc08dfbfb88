/* util: bounded strings, number parsing, small file helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t
moat_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len >= size ? size - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
moat_strlcat(char *dst, const char *src, size_t size)
{
	size_t dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + moat_strlcpy(dst + dlen, src, size - dlen);
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r)
{
	uint64_t v = 0;
	const char *p;

	if (*s == '\0') {
		*error_r = "empty number";
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*error_r = "not a number";
			return -1;
		}
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v)) {
			*error_r = "number too large";
			return -1;
		}
	}
	if (v < min) {
		*error_r = "number too small";
		return -1;
	}
	if (v > max) {
		*error_r = "number too large";
		return -1;
	}
	*v_r = v;
	return 0;
}

static int
parse_suffixed(const char *s, const char *suffixes, const uint64_t *mults,
    uint64_t min, uint64_t max, uint64_t *v_r, const char **error_r)
{
	char digits[32];
	size_t len = strlen(s);
	uint64_t mult = 1, v;
	const char *sfx;

	if (len == 0 || len >= sizeof(digits)) {
		*error_r = len == 0 ? "empty number" : "number too long";
		return -1;
	}
	memcpy(digits, s, len + 1);
	sfx = strchr(suffixes, digits[len - 1]);
	if (digits[len - 1] != '\0' && sfx != NULL && len > 1) {
		mult = mults[sfx - suffixes];
		digits[len - 1] = '\0';
	}
	if (parse_u64(digits, 0, UINT64_MAX, &v, error_r) < 0)
		return -1;
	if (__builtin_mul_overflow(v, mult, &v)) {
		*error_r = "number too large";
		return -1;
	}
	if (v < min || v > max) {
		*error_r = v < min ? "number too small" : "number too large";
		return -1;
	}
	*v_r = v;
	return 0;
}

int
parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r)
{
	static const uint64_t mults[] = { 1024, 1024, 1048576, 1048576,
	    1073741824, 1073741824 };

	return parse_suffixed(s, "kKmMgG", mults, min, max, v_r, error_r);
}

int
parse_duration(const char *s, uint64_t min, uint64_t max, uint64_t *v_r,
    const char **error_r)
{
	static const uint64_t mults[] = { 1, 60, 3600, 86400 };

	return parse_suffixed(s, "smhd", mults, min, max, v_r, error_r);
}

int
parse_bool(const char *s, bool *v_r)
{
	if (ascii_ieq(s, "yes") || ascii_ieq(s, "true") || ascii_ieq(s, "on") ||
	    strcmp(s, "1") == 0)
		*v_r = true;
	else if (ascii_ieq(s, "no") || ascii_ieq(s, "false") ||
	    ascii_ieq(s, "off") || strcmp(s, "0") == 0)
		*v_r = false;
	else
		return -1;
	return 0;
}

void
ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool
ascii_ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lc((unsigned char)*a) != lc((unsigned char)*b))
			return false;
	return *a == *b;
}

bool
ascii_nieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
		if (a[i] == '\0')
			return true;
	}
	return true;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
			return -1;
		if (i < len)
			tmp[i] = '/';
	}
	return 0;
}

bool
conf_list_each(const char *list,
    bool (*cb)(void *ctx, const char *item, size_t len), void *ctx)
{
	size_t len;

	while (*list != '\0') {
		list += strspn(list, ", \t");
		len = strcspn(list, ", \t");
		if (len > 0 && cb(ctx, list, len))
			return true;
		list += len;
	}
	return false;
}

struct conf_list_has_ctx {
	const char	*name;
	size_t		 len;
	bool		 star;
};

static bool
conf_list_has_item(void *ctx, const char *item, size_t len)
{
	const struct conf_list_has_ctx *c = ctx;

	return (c->star && len == 1 && item[0] == '*') ||
	    (len == c->len && ascii_nieq(item, c->name, len));
}

bool
conf_list_has(const char *list, const char *name, bool star)
{
	struct conf_list_has_ctx c = { name, strlen(name), star };

	return conf_list_each(list, conf_list_has_item, &c);
}

void
time_iso(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}
