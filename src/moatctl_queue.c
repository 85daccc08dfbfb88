/* moatctl_queue: queue administration: list the queued messages, show one
 * (envelope, per-recipient state and headers), ask the runner to retry
 * everything now, delete a message. Reads the queue directory directly;
 * safe while moatd runs (files are replaced atomically). */
#include "moatctl_queue.h"
#include "moatctl_ids.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "queue.h"
#include "util.h"

#define QUEUE_SHOW_HEADERS_MAX 16384	/* header bytes shown */

static int
load(const struct config *cfg, const char *id, struct buf *data,
    struct queue_envelope *env, size_t *off)
{
	const char *error = NULL;

	if (!queue_id_valid(id)) {
		fprintf(stderr, "moatctl: %s: not a queue id\n", id);
		return -1;
	}
	if (queue_read(cfg->data_dir, id, cfg->message_size +
	    QUEUE_ENVELOPE_MAX + 65536, data) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", id, errno == ENOENT ?
		    "no such message in the queue" : strerror(errno));
		return -1;
	}
	if (queue_envelope_parse(data->data, data->len, env, off,
	    &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", id, error);
		buf_deinit(data);
		return -1;
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
queue_list(const struct config *cfg)
{
	char dir[4096], when[32], next[32];
	char **ids = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	if (queue_dirs_path(cfg->data_dir, "msg", dir, sizeof(dir)) < 0)
		return 1;
	if ((d = opendir(dir)) == NULL && errno == ENOENT)
		return 0;	/* moatd never ran: nothing queued */
	if (d == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		ids = realloc(ids, (n + 1) * sizeof(char *));
		if (ids == NULL || (ids[n] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "moatctl: out of memory\n");
			closedir(d);
			return 1;
		}
		n++;
	}
	closedir(d);
	qsort(ids, n, sizeof(char *), cmp_str);
	for (i = 0; i < n; i++) {
		struct queue_envelope env;
		struct queue_state st;
		struct buf data;
		size_t off, done = 0, r;

		if (load(cfg, ids[i], &data, &env, &off) < 0)
			continue;	/* delivered meanwhile, or reported */
		if (queue_state_load(cfg->data_dir, env.id, env.nrcpts,
		    &st) < 0)
			memset(&st, 0, sizeof(st));
		for (r = 0; st.status != NULL && r < env.nrcpts; r++)
			if (st.status[r] != QUEUE_RCPT_PENDING)
				done++;
		time_iso(env.time, when, sizeof(when));
		if (st.next_try)
			time_iso(st.next_try, next, sizeof(next));
		else
			snprintf(next, sizeof(next), "now");
		/* id, arrival, size, sender, recipients done/total,
		 * attempts, next try, last error */
		if (st.held)
			snprintf(next, sizeof(next), "held");
		printf("%s\t%s\t%zu\t<%s>\t%zu/%zu\t%u\t%s\t%s\n", env.id, when,
		    data.len - off, env.from, done, env.nrcpts, st.attempts,
		    next, st.last_error);
		queue_state_free(&st);
		queue_envelope_free(&env);
		buf_deinit(&data);
	}
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return 0;
}

static int
queue_show(const struct config *cfg, const char *id)
{
	struct queue_envelope env;
	struct queue_state st;
	struct buf data;
	char when[32];
	size_t off, i, hlen;
	const uint8_t *hend;
	static const char *const status[] = { "pending", "done", "failed" };

	if (load(cfg, id, &data, &env, &off) < 0)
		return 1;
	if (queue_state_load(cfg->data_dir, env.id, env.nrcpts, &st) < 0)
		memset(&st, 0, sizeof(st));
	time_iso(env.time, when, sizeof(when));
	printf("id\t%s\narrival\t%s\nsize\t%zu\nfrom\t<%s>\nclient\t%s\n"
	    "helo\t%s\nservice\t%s\nsession\t%s\nattempts\t%u\n", env.id,
	    when, data.len - off, env.from, env.client_ip ? env.client_ip : "",
	    env.helo ? env.helo : "", env.service ? env.service : "",
	    env.session ? env.session : "", st.attempts);
	if (st.last_error[0] != '\0')
		printf("last_error\t%s\n", st.last_error);
	for (i = 0; i < env.nrcpts; i++)
		printf("rcpt\t<%s>\t%s\n", env.rcpts[i], status[st.status ?
		    st.status[i] : 0]);
	/* Headers only: the body may be large or sensitive. */
	hend = NULL;
	for (i = off; i + 3 < data.len; i++) {
		if (memcmp(data.data + i, "\r\n\r\n", 4) == 0) {
			hend = data.data + i + 2;
			break;
		}
	}
	hlen = hend ? (size_t)(hend - (data.data + off)) : data.len - off;
	if (hlen > QUEUE_SHOW_HEADERS_MAX)
		hlen = QUEUE_SHOW_HEADERS_MAX;
	printf("\n");
	fwrite(data.data + off, 1, hlen, stdout);
	queue_state_free(&st);
	queue_envelope_free(&env);
	buf_deinit(&data);
	return 0;
}

int
moatctl_queue(const struct config *cfg, int argc, char **argv)
{
	int i, rc = 0;

	if (argc >= 2 && strcmp(argv[1], "list") == 0 && argc == 2)
		return queue_list(cfg);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return queue_show(cfg, argv[2]);
	if (argc == 2 && strcmp(argv[1], "flush") == 0) {
		if (queue_flush_request(cfg->data_dir) < 0) {
			fprintf(stderr, "moatctl: queue flush: %s\n",
			    strerror(errno));
			return 1;
		}
		printf("flush requested\n");
		return 0;
	}
	if (argc >= 3 && (strcmp(argv[1], "hold") == 0 ||
	    strcmp(argv[1], "release") == 0)) {
		bool hold = strcmp(argv[1], "hold") == 0;

		for (i = 2; i < argc; i++) {
			if (!queue_id_valid(argv[i]) ||
			    !queue_exists(cfg->data_dir, argv[i])) {
				fprintf(stderr, "moatctl: %s: no such message in "
				    "the queue\n", argv[i]);
				rc = 1;
				continue;
			}
			if (queue_state_hold(cfg->data_dir, argv[i], hold) < 0) {
				fprintf(stderr, "moatctl: %s: %s\n", argv[i],
				    strerror(errno));
				rc = 1;
				continue;
			}
			printf("%s %s\n", hold ? "held" : "released", argv[i]);
		}
		/* A released message is retried now. */
		if (!hold && rc == 0 && queue_flush_request(cfg->data_dir) < 0)
			rc = 1;
		return rc;
	}
	if (argc >= 3 && strcmp(argv[1], "delete") == 0)
		return moatctl_delete_ids(cfg->data_dir, argc, argv, 2,
		    queue_remove, "queue");
	fprintf(stderr, "usage: moatctl queue list | show ID | flush | "
	    "hold ID... | release ID... | delete ID...\n");
	return 2;
}
