/* quarantine: moving messages between the queue and
 * <data_dir>/quarantine, listing, releasing, deleting and expiring them.
 * Files keep the queue's format, so a released message is the queued
 * message again, minus its "quarantine" line. Names are always queue ids
 * (queue_id_valid): nothing here builds a path from other text. */
#include "quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define QUARANTINE_COPY_CHUNK 65536

int
quarantine_path(const char *data_dir, const char *id, char *dst,
    size_t dstlen)
{
	int n;

	if (id != NULL && !queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	n = id != NULL ? snprintf(dst, dstlen, "%s/quarantine/%s", data_dir,
	    id) : snprintf(dst, dstlen, "%s/quarantine", data_dir);
	if (n < 0 || (size_t)n >= dstlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The directory, made on first use (by the queue runner, so it belongs
 * to the [server] user), with its parent synced so that it lasts. */
static int
quarantine_dir(const char *data_dir, char *dir, size_t dirlen)
{
	if (quarantine_path(data_dir, NULL, dir, dirlen) < 0)
		return -1;
	if (mkdir(dir, 0700) == 0)
		return fsync_dir(data_dir);
	return errno == EEXIST ? 0 : -1;
}

/* src copied to dst through a temporary name in dir, fsync'd before the
 * rename: used only when the queue and the quarantine are on different
 * file systems. */
static int
copy_durable(const char *src, const char *dir, const char *id,
    const char *dst)
{
	char tmp[4096], chunk[QUARANTINE_COPY_CHUNK];
	int in, out, saved;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	(void)unlink(tmp);	/* left by a crash during an earlier copy */
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		saved = errno;
		close(in);
		errno = saved;
		return -1;
	}
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(out, chunk, (size_t)n) < 0)
			goto fail;
	}
	if (fsync(out) < 0)
		goto fail;
	close(in);
	if (close(out) < 0 || rename(tmp, dst) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
fail:
	saved = errno;
	close(in);
	close(out);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
quarantine_move(const char *data_dir, const char *id)
{
	char src[4096], dst[4096], dir[4096], qdir[4096];

	if (!queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if (queue_dirs_path(data_dir, "msg", qdir, sizeof(qdir)) < 0 ||
	    snprintf(src, sizeof(src), "%s/%s", qdir, id) >=
	    (int)sizeof(src)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (quarantine_dir(data_dir, dir, sizeof(dir)) < 0 ||
	    quarantine_path(data_dir, id, dst, sizeof(dst)) < 0)
		return -1;
	/* The retention counts from the moment it is held, not from its
	 * arrival (the file's time is what quarantine_prune looks at).
	 * Should that fail, it counts from arrival: not worth a retry. */
	(void)utimensat(AT_FDCWD, src, NULL, 0);
	if (rename(src, dst) < 0) {
		if (errno != EXDEV || copy_durable(src, dir, id, dst) < 0 ||
		    unlink(src) < 0)
			return -1;
	}
	/* The held copy must be on disk before the queue forgets it. A
	 * crash before queue/msg is synced may bring the queue file back:
	 * the runner then moves it again, over the same name. */
	if (fsync_dir(dir) < 0 || fsync_dir(qdir) < 0)
		return -1;
	if (snprintf(src, sizeof(src), "%s/queue/state/%s", data_dir, id) <
	    (int)sizeof(src) && unlink(src) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int
quarantine_read(const char *data_dir, const char *id, size_t max,
    struct buf *data_r)
{
	char path[4096];

	if (quarantine_path(data_dir, id, path, sizeof(path)) < 0)
		return -1;
	return queue_read_file(path, max, data_r);
}

int
quarantine_release(const char *data_dir, const char *id, size_t max,
    const char **error_r)
{
	struct queue_envelope env;
	struct buf data, eb, msg;
	char path[4096], dir[4096];
	size_t off;
	int r = -1;

	if (!queue_id_valid(id)) {
		*error_r = "not a queue id";
		return -1;
	}
	if (queue_exists(data_dir, id)) {
		*error_r = "a message with this id is in the queue";
		return -1;
	}
	if (quarantine_read(data_dir, id, max, &data) < 0) {
		*error_r = errno == ENOENT ? "no such message in the "
		    "quarantine" : strerror(errno);
		return -1;
	}
	if (queue_envelope_parse(data.data, data.len, &env, &off,
	    error_r) < 0) {
		buf_deinit(&data);
		return -1;
	}
	free(env.quarantine);
	env.quarantine = NULL;
	/* The queue's clock (delay warnings, bounce_after) starts again:
	 * the time it was held is not a delivery delay. */
	env.time = time(NULL);
	buf_init(&eb, QUEUE_ENVELOPE_MAX);
	/* A view of the message part, never grown. */
	msg.data = data.data + off;
	msg.len = data.len - off;
	msg.cap = msg.len;
	msg.max = msg.len;
	if (queue_envelope_format(&env, &eb) < 0) {
		*error_r = "envelope too large";
		goto out;
	}
	if (queue_write_durable(data_dir, id, &eb, &msg) < 0) {
		*error_r = strerror(errno);
		goto out;
	}
	/* Queued for good: now the held copy goes. Should this fail, the
	 * message is both queued and held; it is reported, not hidden. */
	if (quarantine_path(data_dir, id, path, sizeof(path)) < 0 ||
	    unlink(path) < 0 || quarantine_path(data_dir, NULL, dir,
	    sizeof(dir)) < 0 || fsync_dir(dir) < 0) {
		*error_r = "queued, but the held copy could not be removed";
		goto out;
	}
	if (queue_flush_request(data_dir) < 0) {
		*error_r = "queued, but the queue runner could not be woken";
		goto out;
	}
	r = 0;
out:
	buf_deinit(&eb);
	buf_deinit(&data);
	queue_envelope_free(&env);
	return r;
}

int
quarantine_delete(const char *data_dir, const char *id)
{
	char path[4096];

	if (quarantine_path(data_dir, id, path, sizeof(path)) < 0)
		return -1;
	return unlink(path);
}

static int
cmp_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

int
quarantine_list_ids(const char *data_dir, char ***ids_r, size_t *n_r)
{
	char dir[4096];
	struct dirent *de;
	char **ids = NULL;
	size_t n = 0;
	DIR *d;

	*ids_r = NULL;
	*n_r = 0;
	if (quarantine_path(data_dir, NULL, dir, sizeof(dir)) < 0)
		return -1;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL && n < QUARANTINE_LIST_MAX) {
		if (!queue_id_valid(de->d_name))
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(char *));
		ids[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(char *), cmp_desc);
	*ids_r = ids;
	*n_r = n;
	return 0;
}

int
quarantine_peek(const char *data_dir, const char *id,
    struct queue_envelope *env, size_t *size_r, time_t *held_r)
{
	char path[4096];
	struct stat sb;
	size_t off;

	if (quarantine_path(data_dir, id, path, sizeof(path)) < 0 ||
	    queue_envelope_peek_file(path, env, &sb, &off) < 0)
		return -1;
	*size_r = (uint64_t)sb.st_size > off ? (size_t)sb.st_size - off : 0;
	*held_r = sb.st_mtime;
	return 0;
}

int
quarantine_prune(const char *data_dir, time_t before)
{
	char dir[4096], path[4096 + 64];
	struct dirent *de;
	struct stat sb;
	int n = 0;
	DIR *d;

	if (quarantine_path(data_dir, NULL, dir, sizeof(dir)) < 0)
		return -1;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		bool tmp = de->d_name[0] == '.' && strlen(de->d_name) ==
		    QUEUE_ID_LEN + 5;

		/* Held messages, and copies a crash left half made. */
		if (!queue_id_valid(de->d_name) && !tmp)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    sb.st_mtime >= before)
			continue;
		if (unlink(path) < 0) {
			log_warn("event=quarantine-prune-failed file=%s",
			    de->d_name);
			continue;
		}
		if (!tmp) {
			log_info("event=quarantine-expired id=%s held=%lld",
			    de->d_name, (long long)sb.st_mtime);
			n++;
		}
	}
	closedir(d);
	return n;
}
