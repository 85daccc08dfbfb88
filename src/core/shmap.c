/* shmap: the file-backed, process-shared table plumbing (see shmap.h):
 * create or open with a layout check, map, robust locks. */
#include "shmap.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define SHMAP_MAGIC_LEN	8

static void *
map_fd(int fd, uint64_t size)
{
	void *p;

	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	return p == MAP_FAILED ? NULL : p;
}

/* Build a fresh file next to path and rename it into place, so a process
 * that still maps the old one keeps valid memory. */
static int
create_file(struct shmap *m, const struct shmap_layout *lay,
    const char *path, const void *want, uint64_t size, const char **error_r)
{
	char tmp[PATH_MAX];
	void *map = NULL;
	int fd, r, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >=
	    sizeof(tmp)) {
		*error_r = "path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		*error_r = "cannot remove stale temporary file";
		return -1;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		*error_r = "cannot create file";
		return -1;
	}
	/* Allocate now: a sparse file could SIGBUS a worker on a full disk
	 * in the middle of a connection. */
	if ((r = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		errno = r;
		*error_r = "cannot allocate file";
		goto fail;
	}
	if ((map = map_fd(fd, size)) == NULL) {
		*error_r = "cannot map file";
		goto fail;
	}
	memset(map, 0, lay->header_size);
	if (lay->init(map, size, want, error_r) < 0)
		goto fail_map;
	/* The magic last: a file cut short before this is not valid. */
	memcpy(map, lay->magic, SHMAP_MAGIC_LEN);
	if (rename(tmp, path) < 0) {
		*error_r = "cannot rename file into place";
		goto fail_map;
	}
	m->map = map;
	m->size = (size_t)size;
	m->fd = fd;
	return 0;
fail_map:
	saved = errno;
	(void)munmap(map, (size_t)size);
	errno = saved;
fail:
	saved = errno;
	(void)close(fd);
	(void)unlink(tmp);
	errno = saved;
	return -1;
}

/* Open path and map it if lay->check accepts its header. Returns 1
 * mapped, 0 missing or invalid (*why_r says why), -1 on a system
 * error. */
static int
open_existing(struct shmap *m, const struct shmap_layout *lay,
    const char *path, const void *want, const char **why_r)
{
	struct stat st;
	void *hdr, *map;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT) {
			*why_r = "missing";
			return 0;
		}
		*why_r = "cannot open file";
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*why_r = "cannot stat file";
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		errno = EINVAL;
		goto fail;
	}
	hdr = xcalloc(1, lay->header_size);
	n = pread(fd, hdr, lay->header_size, 0);
	if (n < 0) {
		free(hdr);
		*why_r = "cannot read file";
		goto fail;
	}
	*why_r = lay->check(hdr, (uint64_t)st.st_size, want);
	free(hdr);
	if (*why_r != NULL) {
		(void)close(fd);
		return 0;
	}
	if ((map = map_fd(fd, (uint64_t)st.st_size)) == NULL) {
		*why_r = "cannot map file";
		goto fail;
	}
	m->map = map;
	m->size = (size_t)st.st_size;
	m->fd = fd;
	return 1;
fail:
	saved = errno;
	(void)close(fd);
	errno = saved;
	return -1;
}

static void
log_recreate(const struct shmap_layout *lay, const char *path,
    const char *why)
{
	if (lay->recreate_note != NULL)
		log_warnx("%s event=recreate path=%s reason=\"%s\" "
		    "note=\"%s\"", lay->name, path, why, lay->recreate_note);
	else
		log_warnx("%s event=recreate path=%s reason=\"%s\"",
		    lay->name, path, why);
}

int
shmap_open(struct shmap *m, const struct shmap_layout *lay,
    const char *path, const void *want, uint64_t create_size,
    const char **error_r)
{
	const char *why = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->name = lay->name;
	r = open_existing(m, lay, path, want, &why);
	if (r < 0) {
		*error_r = why;
		return -1;
	}
	if (r == 0 && create_size == 0) {
		*error_r = strcmp(why, "missing") == 0 ? "no such file" :
		    "invalid file";
		errno = ENOENT;
		return -1;
	}
	if (r == 0) {
		if (strcmp(why, "missing") != 0)
			log_recreate(lay, path, why);
		if (create_file(m, lay, path, want, create_size, error_r) < 0)
			return -1;
	}
	if (create_size != 0 && lay->locks_init(m->map) < 0) {
		r = errno;
		shmap_close(m);
		errno = r;
		*error_r = "cannot initialise locks";
		return -1;
	}
	return 0;
}

void
shmap_close(struct shmap *m)
{
	if (m->map == NULL)
		return;
	if (munmap(m->map, m->size) < 0)
		log_warn("%s event=munmap-failed", m->name);
	if (close(m->fd) < 0)
		log_warn("%s event=close-failed", m->name);
	m->map = NULL;
	m->size = 0;
	m->fd = -1;
}

int
shmap_sync(struct shmap *m)
{
	return msync(m->map, m->size, MS_SYNC);
}

int
shmap_chown(struct shmap *m, uid_t uid, gid_t gid)
{
	return fchown(m->fd, uid, gid);
}

int
shmap_mutex_init(pthread_mutex_t *first, size_t n, size_t stride)
{
	pthread_mutexattr_t a;
	size_t i;
	int r;

	if ((r = pthread_mutexattr_init(&a)) != 0) {
		errno = r;
		return -1;
	}
	/* Robust: a worker killed while holding a lock must not stop the
	 * others for good. Any state a previous run left is discarded. */
	if ((r = pthread_mutexattr_setpshared(&a,
	    PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
		for (i = 0; i < n && r == 0; i++)
			/* UNSAFE: the caller's stride steps from one lock
			 * to the next inside the mapped file. */
			r = pthread_mutex_init((pthread_mutex_t *)(void *)
			    ((char *)first + i * stride), &a);
	(void)pthread_mutexattr_destroy(&a);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return 0;
}

bool
shmap_lock(pthread_mutex_t *m)
{
	int r = pthread_mutex_lock(m);

	if (r == EOWNERDEAD) {
		if ((r = pthread_mutex_consistent(m)) != 0)
			fatalx("shmap: pthread_mutex_consistent: %s",
			    strerror(r));
		return true;
	}
	if (r != 0)
		fatalx("shmap: pthread_mutex_lock: %s", strerror(r));
	return false;
}

void
shmap_unlock(pthread_mutex_t *m)
{
	int r;

	if ((r = pthread_mutex_unlock(m)) != 0)
		fatalx("shmap: pthread_mutex_unlock: %s", strerror(r));
}
