/* moatctl_outbreak: "moatctl outbreak list [-a]" and "moatctl outbreak
 * release KEY|all" over the shared <data_dir>/outbreak.map, read and
 * changed in place while moatd runs. list prints one key a line,
 * tab-separated: key, state (outbreak, released, counting), sources,
 * client addresses, sender domains, recipients, messages, first seen,
 * last seen, in outbreak since (ISO 8601 UTC, "-" when not). */
#include "moatctl_outbreak.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "outbreak.h"
#include "util.h"

static void
iso_time(time_t t, char *buf, size_t len)
{
	if (t == 0)
		snprintf(buf, len, "-");
	else
		time_iso(t, buf, len);
}

static void
print_state(void *ctx, const struct outbreak_state *st)
{
	char key[OUTBREAK_KEY_TEXT], first[32], last[32], since[32];

	(void)ctx;
	iso_time(st->first_seen, first, sizeof(first));
	iso_time(st->last_seen, last, sizeof(last));
	iso_time(st->since, since, sizeof(since));
	printf("%s\t%s\t%u\t%u\t%u\t%u\t%u\t%s\t%s\t%s\n",
	    outbreak_key_format(st->kind, st->key, key, sizeof(key)),
	    st->since != 0 ? "outbreak" : st->released_until != 0 ?
	    "released" : "counting", st->sources, st->ips, st->domains,
	    st->rcpts, st->messages, first, last, since);
}

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl outbreak list [-a]\n"
	    "       moatctl outbreak release KEY|all\n"
	    "  list: keys in outbreak (-a: every key counted)\n");
	return 2;
}

int
moatctl_outbreak(const struct config *cfg, int argc, char **argv)
{
	struct outbreak_limits lim = { cfg->ob_sources, cfg->ob_recipients,
	    cfg->ob_window };
	struct outbreak_table *t = NULL;
	char path[CONFIG_PATH_MAX + 32];
	const char *error = NULL;
	bool list, all = false;
	uint64_t key = 0;
	unsigned n;

	if (argc < 2)
		return usage();
	list = strcmp(argv[1], "list") == 0;
	if (list && argc == 3 && strcmp(argv[2], "-a") == 0)
		all = true;
	else if (list && argc != 2)
		return usage();
	else if (!list) {
		if (strcmp(argv[1], "release") != 0 || argc != 3)
			return usage();
		if (strcmp(argv[2], "all") == 0)
			all = true;
		else if (outbreak_key_parse(argv[2], &key) < 0) {
			fprintf(stderr, "moatctl: %s: not a key (as listed, "
			    "t:0123456789abcdef)\n", argv[2]);
			return 2;
		}
	}
	snprintf(path, sizeof(path), "%s/outbreak.map", cfg->data_dir);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		if (list)
			return 0;	/* never ran: nothing counted */
		fprintf(stderr, "moatctl: no outbreak state yet: start moatd "
		    "once\n");
		return 1;
	}
	if (outbreak_open(path, 0, false, &t, &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", path, error);
		return 1;
	}
	if (list) {
		outbreak_list(t, &lim, time(NULL), all, print_state, NULL);
		outbreak_close(&t);
		return 0;
	}
	n = outbreak_release(t, key, all, &lim, time(NULL));
	outbreak_close(&t);
	if (n == 0 && !all) {
		fprintf(stderr, "moatctl: %s: no such key\n", argv[2]);
		return 1;
	}
	printf("released %u\n", n);
	return 0;
}
