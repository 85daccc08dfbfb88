/* queue: queue file format, ids, atomic write, per-recipient state. */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

#define QUEUE_RCPTS_MAX 100000
#define QUEUE_STATE_MAX (16 * 1024 * 1024)

static _Atomic unsigned queue_counter;

void
queue_id_new(char id[QUEUE_ID_LEN + 1])
{
	struct timeval tv;
	unsigned n = atomic_fetch_add(&queue_counter, 1);

	gettimeofday(&tv, NULL);
	/* 10 hex digits of seconds, 5 of microseconds, 5 of pid, 4 of a
	 * per-process counter: unique while pids are not reused within the
	 * same microsecond. */
	snprintf(id, QUEUE_ID_LEN + 1, "%010llx%05lx%05lx%04x",
	    (unsigned long long)tv.tv_sec & 0xffffffffffULL,
	    (unsigned long)tv.tv_usec & 0xfffff,
	    (unsigned long)getpid() & 0xfffff, n & 0xffff);
}

bool
queue_id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return id[QUEUE_ID_LEN] == '\0';
}

int
queue_dirs_path(const char *data_dir, const char *sub, char *dst,
    size_t dstlen)
{
	int n = snprintf(dst, dstlen, "%s/queue/%s", data_dir, sub);

	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}

static int
fmt_str(struct buf *out, const char *key, const char *v)
{
	/* Values never contain LF: the session validated or escaped them. */
	if (v != NULL && (strchr(v, '\n') != NULL || strchr(v, '\r') != NULL))
		return -1;
	return buf_printf(out, "%s %s\n", key, v ? v : "");
}

int
queue_envelope_format(const struct queue_envelope *env, struct buf *out)
{
	size_t i;

	if (buf_printf(out, "%s\nid %s\ntime %lld\n", QUEUE_MAGIC, env->id,
	    (long long)env->time) < 0 ||
	    fmt_str(out, "from", env->from) < 0 ||
	    fmt_str(out, "ip", env->client_ip) < 0 ||
	    fmt_str(out, "helo", env->helo) < 0 ||
	    fmt_str(out, "service", env->service) < 0 ||
	    fmt_str(out, "session", env->session) < 0 ||
	    (env->auth != NULL && fmt_str(out, "auth", env->auth) < 0) ||
	    (env->quarantine != NULL && fmt_str(out, "quarantine",
	    env->quarantine) < 0) ||
	    (env->author_dmarc != NULL && fmt_str(out, "author_dmarc",
	    env->author_dmarc) < 0) ||
	    buf_printf(out, "smtputf8 %d\n8bit %d\njunk %d\n",
	    env->smtputf8 ? 1 : 0, env->eightbit ? 1 : 0,
	    env->junk ? 1 : 0) < 0)
		return -1;
	for (i = 0; i < env->nrcpts; i++)
		if (fmt_str(out, "rcpt", env->rcpts[i]) < 0)
			return -1;
	return buf_append(out, "\n", 1);
}

void
queue_envelope_free(struct queue_envelope *env)
{
	size_t i;

	free(env->from);
	for (i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	free(env->client_ip);
	free(env->helo);
	free(env->service);
	free(env->session);
	free(env->auth);
	free(env->quarantine);
	free(env->author_dmarc);
	memset(env, 0, sizeof(*env));
}

int
queue_envelope_parse(const uint8_t *data, size_t len,
    struct queue_envelope *env, size_t *body_off_r, const char **error_r)
{
	size_t pos = 0, lim = len < QUEUE_ENVELOPE_MAX ? len :
	    QUEUE_ENVELOPE_MAX;
	bool magic = false, have_id = false;

	memset(env, 0, sizeof(*env));
	while (pos < lim) {
		const uint8_t *nl = memchr(data + pos, '\n', lim - pos);
		size_t llen;
		char *line, *sp, *val;

		if (nl == NULL)
			break;
		llen = (size_t)(nl - (data + pos));
		if (llen == 0) {
			if (!magic || !have_id || env->from == NULL) {
				*error_r = "incomplete envelope";
				goto fail;
			}
			*body_off_r = pos + 1;
			return 0;
		}
		line = xstrndup((const char *)data + pos, llen);
		pos += llen + 1;
		if (!magic) {
			magic = strcmp(line, QUEUE_MAGIC) == 0;
			free(line);
			if (!magic) {
				*error_r = "not a queue file";
				goto fail;
			}
			continue;
		}
		sp = strchr(line, ' ');
		if (sp == NULL) {
			free(line);
			*error_r = "malformed envelope line";
			goto fail;
		}
		*sp = '\0';
		val = sp + 1;
		if (strcmp(line, "id") == 0) {
			if (strlen(val) != QUEUE_ID_LEN || !queue_id_valid(val)) {
				free(line);
				*error_r = "bad id";
				goto fail;
			}
			memcpy(env->id, val, QUEUE_ID_LEN + 1);
			have_id = true;
		} else if (strcmp(line, "time") == 0) {
			env->time = (time_t)strtoll(val, NULL, 10);
		} else if (strcmp(line, "from") == 0 && env->from == NULL) {
			env->from = xstrdup(val);
		} else if (strcmp(line, "ip") == 0 && !env->client_ip) {
			env->client_ip = xstrdup(val);
		} else if (strcmp(line, "helo") == 0 && !env->helo) {
			env->helo = xstrdup(val);
		} else if (strcmp(line, "service") == 0 && !env->service) {
			env->service = xstrdup(val);
		} else if (strcmp(line, "session") == 0 && !env->session) {
			env->session = xstrdup(val);
		} else if (strcmp(line, "auth") == 0 && !env->auth) {
			env->auth = xstrdup(val);
		} else if (strcmp(line, "quarantine") == 0 &&
		    !env->quarantine) {
			env->quarantine = xstrdup(val);
		} else if (strcmp(line, "author_dmarc") == 0 &&
		    !env->author_dmarc) {
			env->author_dmarc = xstrdup(val);
		} else if (strcmp(line, "smtputf8") == 0) {
			env->smtputf8 = strcmp(val, "1") == 0;
		} else if (strcmp(line, "8bit") == 0) {
			env->eightbit = strcmp(val, "1") == 0;
		} else if (strcmp(line, "junk") == 0) {
			env->junk = strcmp(val, "1") == 0;
		} else if (strcmp(line, "rcpt") == 0) {
			if (env->nrcpts == QUEUE_RCPTS_MAX) {
				free(line);
				*error_r = "too many recipients";
				goto fail;
			}
			env->rcpts = xreallocarray(env->rcpts,
			    env->nrcpts + 1, sizeof(char *));
			env->rcpts[env->nrcpts++] = xstrdup(val);
		}
		/* Unknown keys come from newer versions: ignored. */
		free(line);
	}
	*error_r = "envelope not terminated";
fail:
	queue_envelope_free(env);
	return -1;
}

int
queue_write(const char *data_dir, const char *id, const struct buf *env,
    const struct buf *msg)
{
	char tmp[4096], dst[4096];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s/queue/tmp/%s", data_dir, id) >=
	    (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/queue/msg/%s", data_dir, id) >=
	    (int)sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, env->data, env->len) < 0 ||
	    write_all(fd, msg->data, msg->len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int
queue_write_durable(const char *data_dir, const char *id,
    const struct buf *env, const struct buf *msg)
{
	char dir[4096];

	return queue_write(data_dir, id, env, msg) < 0 ||
	    queue_dirs_path(data_dir, "msg", dir, sizeof(dir)) < 0 ||
	    fsync_dir(dir) < 0 ? -1 : 0;
}

int
queue_read_file(const char *path, size_t max, struct buf *data_r)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	ssize_t n;

	if (fd < 0)
		return -1;
	buf_init(data_r, max);
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size < max)
		/* One allocation of the right size. */
		if (buf_append(data_r, "", 0) < 0)
			goto fail;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (buf_append(data_r, chunk, (size_t)n) < 0) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	return 0;
fail:
	n = errno;
	close(fd);
	buf_deinit(data_r);
	errno = (int)n;
	return -1;
}

int
queue_read(const char *data_dir, const char *id, size_t max,
    struct buf *data_r)
{
	char path[4096];

	if (!queue_id_valid(id) || snprintf(path, sizeof(path),
	    "%s/queue/msg/%s", data_dir, id) >= (int)sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	return queue_read_file(path, max, data_r);
}

bool
queue_exists(const char *data_dir, const char *id)
{
	char path[4096];

	if (!queue_id_valid(id) || snprintf(path, sizeof(path),
	    "%s/queue/msg/%s", data_dir, id) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

int
queue_remove(const char *data_dir, const char *id)
{
	char path[4096];
	int r = 0;

	if (!queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/queue/state/%s", data_dir, id);
	if (unlink(path) < 0 && errno != ENOENT)
		r = -1;
	snprintf(path, sizeof(path), "%s/queue/msg/%s", data_dir, id);
	if (unlink(path) < 0)
		r = -1;
	return r;
}

static int
state_append(const char *data_dir, const char *id, const char *line)
{
	char path[4096];
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/queue/state/%s", data_dir, id) >=
	    (int)sizeof(path))
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	r = write_all(fd, line, strlen(line));
	if (close(fd) < 0)
		r = -1;
	return r;
}

static void
one_line(char *dst, size_t dstlen, const char *s)
{
	size_t i;

	moat_strlcpy(dst, s ? s : "", dstlen);
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == '\n' || dst[i] == '\r')
			dst[i] = ' ';
}

int
queue_state_mark(const char *data_dir, const char *id, size_t rcpt,
    enum queue_rcpt_status status, const char *reason)
{
	char line[512], why[256];

	one_line(why, sizeof(why), reason);
	snprintf(line, sizeof(line), "%s %zu %s\n",
	    status == QUEUE_RCPT_DONE ? "done" : "failed", rcpt, why);
	return state_append(data_dir, id, line);
}

int
queue_state_defer(const char *data_dir, const char *id, unsigned attempts,
    time_t next_try, const char *reason)
{
	char line[512], why[256];

	one_line(why, sizeof(why), reason);
	snprintf(line, sizeof(line), "defer %u %lld %s\n", attempts,
	    (long long)next_try, why);
	return state_append(data_dir, id, line);
}

int
queue_state_hold(const char *data_dir, const char *id, bool hold)
{
	return state_append(data_dir, id, hold ? "hold 1\n" : "hold 0\n");
}

int
queue_state_warned(const char *data_dir, const char *id)
{
	return state_append(data_dir, id, "warned 0\n");
}

int
queue_state_load(const char *data_dir, const char *id, size_t nrcpts,
    struct queue_state *st)
{
	char path[4096];
	struct buf data;
	size_t pos = 0;

	memset(st, 0, sizeof(*st));
	st->nrcpts = nrcpts;
	st->status = xcalloc(nrcpts ? nrcpts : 1, 1);
	snprintf(path, sizeof(path), "%s/queue/state/%s", data_dir, id);
	if (queue_read_file(path, QUEUE_STATE_MAX, &data) < 0)
		return errno == ENOENT ? 0 : -1;
	while (pos < data.len) {
		uint8_t *nl = memchr(data.data + pos, '\n', data.len - pos);
		char line[600], word[16], rest[300];
		size_t llen;
		unsigned long long a, b;

		if (nl == NULL)
			break;	/* torn last record: ignore it */
		llen = (size_t)(nl - (data.data + pos));
		if (llen < sizeof(line)) {
			memcpy(line, data.data + pos, llen);
			line[llen] = '\0';
			rest[0] = '\0';
			if (sscanf(line, "%15s %llu %llu %299[^\n]", word, &a, &b,
			    rest) >= 3 && strcmp(word, "defer") == 0) {
				st->attempts = (unsigned)a;
				st->next_try = (time_t)b;
				moat_strlcpy(st->last_error, rest,
				    sizeof(st->last_error));
			} else if (sscanf(line, "%15s %llu", word, &a) == 2 &&
			    strcmp(word, "hold") == 0) {
				st->held = a != 0;
			} else if (sscanf(line, "%15s %llu", word, &a) == 2 &&
			    a < nrcpts) {
				if (strcmp(word, "warned") == 0)
					st->warned = true;
				else if (strcmp(word, "hold") == 0)
					st->held = a != 0;
				else if (strcmp(word, "done") == 0)
					st->status[a] = QUEUE_RCPT_DONE;
				else if (strcmp(word, "failed") == 0)
					st->status[a] = QUEUE_RCPT_FAILED;
			}
		}
		pos += llen + 1;
	}
	buf_deinit(&data);
	return 0;
}

void
queue_state_free(struct queue_state *st)
{
	free(st->status);
	st->status = NULL;
}

int
queue_flush_request(const char *data_dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/queue/flush", data_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	return close(fd);
}

int
queue_envelope_peek_file(const char *path, struct queue_envelope *env,
    struct stat *st_r, size_t *body_off_r)
{
	const char *error;
	uint8_t *buf;
	size_t got = 0, off;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (st_r != NULL && fstat(fd, st_r) < 0) {
		close(fd);
		return -1;
	}
	buf = xmalloc(QUEUE_ENVELOPE_PEEK);
	while (got < QUEUE_ENVELOPE_PEEK) {
		n = read(fd, buf + got, QUEUE_ENVELOPE_PEEK - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	r = queue_envelope_parse(buf, got, env, &off, &error);
	free(buf);
	if (r < 0) {
		errno = EINVAL;
		return -1;
	}
	if (body_off_r != NULL)
		*body_off_r = off;
	return 0;
}

int
queue_envelope_peek(const char *data_dir, const char *id,
    struct queue_envelope *env)
{
	char path[4096];

	if (!queue_id_valid(id) || snprintf(path, sizeof(path),
	    "%s/queue/msg/%s", data_dir, id) >= (int)sizeof(path)) {
		errno = EINVAL;
		return -1;
	}
	return queue_envelope_peek_file(path, env, NULL, NULL);
}

int
queue_hold_auth(const char *data_dir, const char *account, bool hold)
{
	struct queue_envelope env;
	struct dirent *de;
	char dir[4096];
	DIR *d;
	int n = 0;

	if (queue_dirs_path(data_dir, "msg", dir, sizeof(dir)) < 0 ||
	    (d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name) ||
		    queue_envelope_peek(data_dir, de->d_name, &env) < 0)
			continue;
		if (env.auth != NULL && strcasecmp(env.auth, account) == 0 &&
		    queue_state_hold(data_dir, de->d_name, hold) == 0)
			n++;
		queue_envelope_free(&env);
	}
	closedir(d);
	if (!hold && n > 0 && queue_flush_request(data_dir) < 0)
		return -1;
	return n;
}
