/* maildir: idempotent Maildir delivery (tmp, fsync, link into new). */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static bool
safe_component(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || strchr(s, '/') != NULL)
		return false;
	return strlen(s) <= 255;
}

int
maildir_path(const char *data_dir, const char *domain, const char *local,
    char *dst, size_t dstlen)
{
	int n;

	if (!safe_component(domain) || !safe_component(local)) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(dst, dstlen, "%s/mail/%s/%s/Maildir", data_dir, domain,
	    local);
	if (n < 0 || (size_t)n >= dstlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
maildir_create(const char *path)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char sub[4096];
	size_t i;

	if (mkdir_p(path, 0700) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

int
maildir_name(time_t qtime, const char *qid, const char *host, char *dst,
    size_t dstlen)
{
	char h[256];
	size_t o = 0;
	int n;

	/* The Maildir spec: '/' becomes \057 and ':' becomes \072. */
	for (; *host != '\0' && o + 5 < sizeof(h); host++) {
		if (*host == '/' || *host == ':') {
			n = snprintf(h + o, sizeof(h) - o, "\\%03o",
			    (unsigned char)*host);
			o += (size_t)n;
		} else {
			h[o++] = *host;
		}
	}
	h[o] = '\0';
	n = snprintf(dst, dstlen, "%lld.Q%s.%s", (long long)qtime, qid, h);
	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}

static bool
in_cur(const char *maildir, const char *name)
{
	char path[4096];
	size_t nlen = strlen(name);
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cur", maildir);
	d = opendir(path);
	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, nlen) == 0 &&
		    (de->d_name[nlen] == '\0' || de->d_name[nlen] == ':')) {
			found = true;
			break;
		}
	}
	closedir(d);
	return found;
}

bool
maildir_has(const char *maildir, const char *name, bool check_cur)
{
	char dst[4096];
	struct stat sb;

	if (snprintf(dst, sizeof(dst), "%s/new/%s", maildir, name) >=
	    (int)sizeof(dst))
		return false;
	return stat(dst, &sb) == 0 || (check_cur && in_cur(maildir, name));
}

enum maildir_result
maildir_deliver(const char *maildir, const char *name,
    const struct iovec *iov, int iovcnt, bool check_cur)
{
	char tmp[4096], dst[4096];
	int fd, i, saved;

	if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name) >=
	    (int)sizeof(tmp) || snprintf(dst, sizeof(dst), "%s/new/%s",
	    maildir, name) >= (int)sizeof(dst)) {
		errno = ENAMETOOLONG;
		return MAILDIR_ERROR;
	}
	if (maildir_has(maildir, name, check_cur))
		return MAILDIR_ALREADY;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* Account created without its Maildir (or it was removed). */
		if (maildir_create(maildir) < 0)
			return MAILDIR_ERROR;
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return MAILDIR_ERROR;
	for (i = 0; i < iovcnt; i++) {
		if (write_all(fd, iov[i].iov_base, iov[i].iov_len) < 0)
			goto fail;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (link(tmp, dst) < 0) {
		if (errno != EEXIST)
			goto fail;
		unlink(tmp);
		return MAILDIR_ALREADY;
	}
	unlink(tmp);
	return MAILDIR_DELIVERED;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return MAILDIR_ERROR;
}
