/* moatctl_quarantine: the quarantine commands: list the held messages,
 * show one (envelope and headers, or the whole message), release one
 * back into the queue (delivery goes on), delete one. Works on
 * <data_dir>/quarantine directly (src/store/quarantine.c); safe while
 * moatd runs, since files are only ever renamed into place. IDs are
 * checked with queue_id_valid: no argument ever becomes a path. */
#include "moatctl_quarantine.h"
#include "moatctl_ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "quarantine.h"
#include "queue.h"
#include "util.h"

#define QUARANTINE_SHOW_HEADERS_MAX 16384	/* header bytes shown */
#define QUARANTINE_LIMIT_MAX 1000000		/* --limit bound */
#define QUARANTINE_CTL_USAGE \
	"usage: moatctl quarantine list [--limit N]\n" \
	"       moatctl quarantine show [--full] ID\n" \
	"       moatctl quarantine release ID...\n" \
	"       moatctl quarantine delete ID...\n"

/* Held messages are read whole up to this: the largest message the
 * server accepts plus its envelope. */
static size_t
read_max(const struct config *cfg)
{
	return cfg->message_size + QUEUE_ENVELOPE_MAX + 65536;
}

static void
free_ids(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* id, held at, sender, recipients (comma-separated), size, reason. */
static int
q_list(const struct config *cfg, int argc, char **argv)
{
	char **ids, when[32];
	size_t n, i, shown = 0, r;
	uint64_t limit = QUARANTINE_LIMIT_MAX;
	const char *err;

	if (argc == 4 && strcmp(argv[2], "--limit") == 0) {
		if (parse_u64(argv[3], 1, QUARANTINE_LIMIT_MAX, &limit,
		    &err) < 0) {
			fprintf(stderr, "moatctl: quarantine: --limit: %s\n",
			    err);
			return 2;
		}
	} else if (argc != 2) {
		fputs(QUARANTINE_CTL_USAGE, stderr);
		return 2;
	}
	if (quarantine_list_ids(cfg->data_dir, &ids, &n) < 0) {
		fprintf(stderr, "moatctl: quarantine: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n && shown < limit; i++) {
		struct queue_envelope env;
		size_t size;
		time_t held;

		if (quarantine_peek(cfg->data_dir, ids[i], &env, &size,
		    &held) < 0)
			continue;	/* released or deleted meanwhile */
		time_iso(held, when, sizeof(when));
		printf("%s\t%s\t<%s>\t", env.id, when, env.from);
		for (r = 0; r < env.nrcpts; r++)
			printf("%s<%s>", r > 0 ? "," : "", env.rcpts[r]);
		printf("\t%zu\t%s\n", size, env.quarantine ?
		    env.quarantine : "");
		shown++;
		queue_envelope_free(&env);
	}
	free_ids(ids, n);
	return 0;
}

/* Header text for a terminal: control octets other than line ends and
 * tabs (escape sequences in a hostile header) are shown as \xNN. */
static void
print_terminal_safe(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if ((p[i] < 0x20 && p[i] != '\r' && p[i] != '\n' &&
		    p[i] != '\t') || p[i] == 0x7f)
			printf("\\x%02x", p[i]);
		else
			putchar(p[i]);
	}
}

static int
q_show(const struct config *cfg, const char *id, bool full)
{
	struct queue_envelope env;
	struct buf data;
	const char *error = NULL;
	char when[32], held_at[32], path[4096];
	size_t off, i, hlen;
	struct stat sb;
	time_t held;

	if (!queue_id_valid(id)) {
		fprintf(stderr, "moatctl: %s: not a queue id\n", id);
		return 1;
	}
	if (quarantine_read(cfg->data_dir, id, read_max(cfg), &data) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", id, errno == ENOENT ?
		    "no such message in the quarantine" : strerror(errno));
		return 1;
	}
	if (queue_envelope_parse(data.data, data.len, &env, &off,
	    &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", id, error);
		buf_deinit(&data);
		return 1;
	}
	/* The file's time: when it was held. */
	if (quarantine_path(cfg->data_dir, id, path, sizeof(path)) < 0 ||
	    stat(path, &sb) < 0)
		held = env.time;
	else
		held = sb.st_mtime;
	time_iso(env.time, when, sizeof(when));
	time_iso(held, held_at, sizeof(held_at));
	printf("id\t%s\narrival\t%s\nheld\t%s\nreason\t%s\nsize\t%zu\n"
	    "from\t<%s>\nclient\t%s\nhelo\t%s\nservice\t%s\nsession\t%s\n",
	    env.id, when, held_at, env.quarantine ? env.quarantine : "",
	    data.len - off, env.from, env.client_ip ? env.client_ip : "",
	    env.helo ? env.helo : "", env.service ? env.service : "",
	    env.session ? env.session : "");
	if (env.auth != NULL)
		printf("auth\t%s\n", env.auth);
	for (i = 0; i < env.nrcpts; i++)
		printf("rcpt\t<%s>\n", env.rcpts[i]);
	printf("\n");
	if (full) {
		fwrite(data.data + off, 1, data.len - off, stdout);
	} else {
		/* Headers only: the body may be large or dangerous. */
		hlen = data.len - off;
		for (i = off; i + 3 < data.len; i++) {
			if (memcmp(data.data + i, "\r\n\r\n", 4) == 0) {
				hlen = i + 2 - off;
				break;
			}
		}
		if (hlen > QUARANTINE_SHOW_HEADERS_MAX)
			hlen = QUARANTINE_SHOW_HEADERS_MAX;
		print_terminal_safe(data.data + off, hlen);
	}
	queue_envelope_free(&env);
	buf_deinit(&data);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
q_release(const struct config *cfg, int argc, char **argv)
{
	const char *error = NULL;
	int i, rc = 0;

	for (i = 2; i < argc; i++) {
		if (quarantine_release(cfg->data_dir, argv[i], read_max(cfg),
		    &error) < 0) {
			fprintf(stderr, "moatctl: %s: %s\n", argv[i], error);
			rc = 1;
			continue;
		}
		printf("released %s\n", argv[i]);
	}
	return rc;
}

int
moatctl_quarantine(const struct config *cfg, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return q_list(cfg, argc, argv);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return q_show(cfg, argv[2], false);
	if (argc == 4 && strcmp(argv[1], "show") == 0 &&
	    (strcmp(argv[2], "--full") == 0 || strcmp(argv[3], "--full") == 0))
		return q_show(cfg, strcmp(argv[2], "--full") == 0 ? argv[3] :
		    argv[2], true);
	if (argc >= 3 && strcmp(argv[1], "release") == 0)
		return q_release(cfg, argc, argv);
	if (argc >= 3 && strcmp(argv[1], "delete") == 0)
		return moatctl_delete_ids(cfg->data_dir, argc, argv, 2,
		    quarantine_delete, "quarantine");
	fputs(QUARANTINE_CTL_USAGE, stderr);
	return 2;
}
