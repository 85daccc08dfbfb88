/* moatctl_ban: list, add and delete bans of client addresses (and
 * account blocks) in the shared dynamic-screening map. Output: one ban
 * a line, tab-separated: kind (ip/account), key, reason, count that
 * tripped it, offences, start, expiry (ISO 8601 UTC, "never"), and
 * "shadow" for a ban recorded in shadow mode. */
#include "moatctl_ban.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynscreen.h"
#include "util.h"

#define BAN_ADMIN_DEFAULT	(24 * 3600)	/* "ban add IP" */

struct dynscreen *
moatctl_screen_map(const struct config *cfg)
{
	struct dynscreen *d = NULL;
	const char *error = NULL;
	char path[CONFIG_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/screen.map", cfg->data_dir);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return NULL;
	if (dyn_open(path, 0, 0, false, &d, &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", path, error);
		return NULL;
	}
	return d;
}

static void
iso_time(time_t t, char *buf, size_t len)
{
	if (t == DYN_BAN_FOREVER)
		snprintf(buf, len, "never");
	else
		time_iso(t, buf, len);
}

static void
print_ban(void *ctx, const char *kind, const char *key,
    const struct dyn_ban *b)
{
	char start[32], until[32];

	(void)ctx;
	iso_time(b->start, start, sizeof(start));
	iso_time(b->until, until, sizeof(until));
	printf("%s\t%s\t%s\t%u\t%u\t%s\t%s\t%s\n", kind, key, b->reason,
	    b->count, b->offences, start, until, b->shadow ? "shadow" : "");
}

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl ban list\n"
	    "       moatctl ban add ADDR[/PREFIX] [DURATION] [REASON]\n"
	    "       moatctl ban del ADDR[/PREFIX]\n"
	    "       moatctl ban add-account ADDRESS [DURATION]\n"
	    "       moatctl ban del-account ADDRESS\n"
	    "  DURATION: 30m, 2h, 7d, or 'forever' (default 1d)\n");
	return 2;
}

/* "192.0.2.7" or "192.0.2.0/24" as a key of the map; a bare address
 * is keyed as the server keys it ([dynamic] aggregate_v4/v6). */
static int
parse_key(const struct config *cfg, const char *s, struct dyn_ip *k)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	uint64_t prefix;
	const char *error;
	size_t l = slash ? (size_t)(slash - s) : strlen(s);

	if (l >= sizeof(ip))
		return -1;
	memcpy(ip, s, l);
	ip[l] = '\0';
	if (slash == NULL)
		return dyn_ip_key(ip, cfg->aggregate_v4, cfg->aggregate_v6, k);
	if (parse_u64(slash + 1, 0, 128, &prefix, &error) < 0)
		return -1;
	if (dyn_ip_key(ip, (unsigned)prefix > 32 ? 32 : (unsigned)prefix,
	    (unsigned)prefix, k) < 0)
		return -1;
	return 0;
}

static int
parse_until(const char *s, time_t now, time_t *until)
{
	uint64_t secs;
	const char *error;

	if (s == NULL) {
		*until = now + BAN_ADMIN_DEFAULT;
		return 0;
	}
	if (strcmp(s, "forever") == 0) {
		*until = DYN_BAN_FOREVER;
		return 0;
	}
	if (parse_duration(s, 1, 3650ULL * 86400, &secs, &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", s, error);
		return -1;
	}
	*until = now + (time_t)secs;
	return 0;
}

int
moatctl_ban(const struct config *cfg, int argc, char **argv)
{
	struct dynscreen *d;
	struct dyn_ip k;
	time_t now = time(NULL), until;
	int rc = 0;

	if (argc < 2)
		return usage();
	if ((d = moatctl_screen_map(cfg)) == NULL) {
		if (strcmp(argv[1], "list") == 0 && argc == 2)
			return 0;	/* never ran: nothing banned */
		fprintf(stderr, "moatctl: no screening state yet: start "
		    "moatd once\n");
		return 1;
	}
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		dyn_ban_list(d, now, print_ban, NULL);
	else if (strcmp(argv[1], "add") == 0 && argc >= 3 && argc <= 5) {
		if (parse_key(cfg, argv[2], &k) < 0) {
			fprintf(stderr, "moatctl: %s: not an address or "
			    "network\n", argv[2]);
			rc = 2;
		} else if (parse_until(argc >= 4 ? argv[3] : NULL, now,
		    &until) < 0)
			rc = 2;
		else if (dyn_ip_ban_until(d, &k, until, argc == 5 ? argv[4] :
		    "admin", now) < 0) {
			fprintf(stderr, "moatctl: %s: the ban table is full\n",
			    argv[2]);
			rc = 1;
		} else
			printf("banned %s\n", argv[2]);
	} else if (strcmp(argv[1], "del") == 0 && argc == 3) {
		if (parse_key(cfg, argv[2], &k) < 0) {
			fprintf(stderr, "moatctl: %s: not an address or "
			    "network\n", argv[2]);
			rc = 2;
		} else if (!dyn_ip_unban(d, &k, now)) {
			fprintf(stderr, "moatctl: %s is not banned\n",
			    argv[2]);
			rc = 1;
		} else
			printf("unbanned %s\n", argv[2]);
	} else if (strcmp(argv[1], "add-account") == 0 && argc >= 3 &&
	    argc <= 4) {
		if (parse_until(argc == 4 ? argv[3] : NULL, now, &until) < 0)
			rc = 2;
		else if (dyn_acct_block_until(d, argv[2], until, "admin",
		    now) < 0) {
			fprintf(stderr, "moatctl: the table is full\n");
			rc = 1;
		} else
			printf("blocked %s\n", argv[2]);
	} else if (strcmp(argv[1], "del-account") == 0 && argc == 3) {
		if (!dyn_acct_unblock(d, argv[2], now)) {
			fprintf(stderr, "moatctl: %s is not blocked\n",
			    argv[2]);
			rc = 1;
		} else
			printf("unblocked %s\n", argv[2]);
	} else
		rc = usage();
	dyn_close(&d);
	return rc;
}
