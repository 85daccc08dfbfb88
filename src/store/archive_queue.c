/* archive_queue: archiving from the queue runner (archive_queue.h). */
#include "archive_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "buf.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define ARCHIVE_DOMAINS_MAX	64	/* distinct domains of one message */
#define RETRY_DIR		"archive/.retry"

static bool
domain_archived(const struct config *cfg, const char *domain)
{
	return conf_list_has(cfg->archive_domains, domain, true);
}

static bool
domain_local(struct store *st, const char *domain)
{
	enum store_rcpt_result r;

	return store_rcpt_check(st, "postmaster", domain, &r) == 0 &&
	    r != STORE_RCPT_NOT_LOCAL;
}

/* The domain of an address, lower-cased, into out. */
static int
domain_of(const char *addr, char *out, size_t len)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	size_t i, n;

	if (at == NULL || (n = strlen(at + 1)) == 0 || n >= len)
		return -1;
	for (i = 0; i <= n; i++)
		out[i] = (char)(at[1 + i] >= 'A' && at[1 + i] <= 'Z' ?
		    at[1 + i] + 32 : at[1 + i]);
	return 0;
}

/* Keep a copy for later: the queue file's own format. */
static void
retry_save(const struct config *cfg, const char *domain,
    enum archive_direction d, const struct queue_envelope *env,
    const uint8_t *msg, size_t len)
{
	char dir[CONFIG_PATH_MAX + 32], path[CONFIG_PATH_MAX + 600];
	char tmp[sizeof(path) + 8];
	struct buf b;
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s/%s", cfg->data_dir, RETRY_DIR);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s.%s.%s", dir,
	    archive_direction_name(d), domain, env->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	buf_init(&b, QUEUE_ENVELOPE_MAX);
	if (queue_envelope_format(env, &b) < 0 ||
	    buf_append(&b, msg, len) < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || write_all(fd, b.data, b.len) < 0 ||
	    fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		if (fd >= 0)
			(void)close(fd);
		buf_deinit(&b);
		goto fail;
	}
	buf_deinit(&b);
	log_warnx("archive id=%s domain=%s event=retry-later", env->id,
	    domain);
	return;
fail:
	log_warn("archive id=%s domain=%s event=lost note=\"cannot keep a "
	    "copy to retry\"", env->id, domain);
}

static void
put(const struct config *cfg, const char *domain, enum archive_direction d,
    const struct queue_envelope *env, const uint8_t *msg, size_t len)
{
	const char *error = NULL;

	if (archive_put(cfg->data_dir, domain, d, env, msg, len, time(NULL),
	    &error) == 0)
		return;
	log_warnx("archive id=%s domain=%s direction=%s event=failed "
	    "error=\"%s\"", env->id, domain, archive_direction_name(d),
	    error ? error : "-");
	retry_save(cfg, domain, d, env, msg, len);
}

void
archive_message(const struct config *cfg, struct store *st,
    const struct queue_envelope *env, const uint8_t *msg, size_t len)
{
	char seen[ARCHIVE_DOMAINS_MAX][ARCHIVE_DOMAIN_MAX + 1], d[256];
	size_t nseen = 0, i, k;

	if (cfg->archive_domains[0] == '\0' ||
	    (env->junk && !cfg->archive_spam))
		return;
	/* Sent: by a local account, for the sender's domain. */
	if (env->auth != NULL && domain_of(env->auth, d, sizeof(d)) == 0 &&
	    domain_archived(cfg, d) && domain_local(st, d))
		put(cfg, d, ARCHIVE_OUT, env, msg, len);
	/* Received: once per local domain among the recipients. */
	for (i = 0; i < env->nrcpts; i++) {
		if (domain_of(env->rcpts[i], d, sizeof(d)) < 0 ||
		    !domain_archived(cfg, d))
			continue;
		for (k = 0; k < nseen && strcmp(seen[k], d) != 0; k++)
			;
		if (k < nseen || nseen == ARCHIVE_DOMAINS_MAX)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", d);
		if (domain_local(st, d))
			put(cfg, d, ARCHIVE_IN, env, msg, len);
	}
}

/* One saved copy: "<in|out>.<domain>.<id>". */
static void
retry_one(const struct config *cfg, const char *dir, const char *name)
{
	char path[CONFIG_PATH_MAX + 600], domain[256];
	struct queue_envelope env;
	enum archive_direction d;
	const char *dot1 = strchr(name, '.'), *dot2, *error = NULL;
	struct buf b;
	size_t off;

	dot2 = dot1 ? strrchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || dot2 == dot1 + 1 ||
	    (size_t)(dot2 - dot1 - 1) >= sizeof(domain))
		return;
	memcpy(domain, dot1 + 1, (size_t)(dot2 - dot1 - 1));
	domain[dot2 - dot1 - 1] = '\0';
	{
		char dn[8];
		size_t l = (size_t)(dot1 - name);

		if (l >= sizeof(dn))
			return;
		memcpy(dn, name, l);
		dn[l] = '\0';
		if (archive_direction_parse(dn, &d) < 0)
			return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (queue_read_file(path, cfg->message_size + QUEUE_ENVELOPE_MAX + 65536,
	    &b) < 0)
		return;
	if (queue_envelope_parse(b.data, b.len, &env, &off, &error) == 0) {
		if (archive_put(cfg->data_dir, domain, d, &env, b.data + off,
		    b.len - off, env.time, &error) == 0) {
			(void)unlink(path);
			log_info("archive id=%s domain=%s event=archived-late",
			    env.id, domain);
		}
		queue_envelope_free(&env);
	}
	buf_deinit(&b);
}

void
archive_maintain(const struct config *cfg)
{
	char dir[CONFIG_PATH_MAX + 32];
	struct dirent *de;
	const char *error = NULL;
	DIR *dp;

	if (cfg->archive_domains[0] == '\0')
		return;
	snprintf(dir, sizeof(dir), "%s/%s", cfg->data_dir, RETRY_DIR);
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL)
			if (de->d_name[0] != '.' &&
			    strstr(de->d_name, ".tmp") == NULL)
				retry_one(cfg, dir, de->d_name);
		closedir(dp);
	}
	if (cfg->archive_days == 0)
		return;
	snprintf(dir, sizeof(dir), "%s/archive", cfg->data_dir);
	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (archive_expire(cfg->data_dir, de->d_name, time(NULL) -
		    (time_t)cfg->archive_days * 86400, &error) < 0)
			log_warnx("archive domain=%s event=expire-failed "
			    "error=\"%s\"", de->d_name, error ? error : "-");
	}
	closedir(dp);
}
