/* moatctl_log: queries of the rejected-session log that every SMTP
 * refusal writes (store_reject_log): newest first, one row per line,
 * tab-separated: time, service, ip, session, helo, sender, recipient,
 * code, reason. */
#include "moatctl_log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cidr.h"
#include "store.h"
#include "util.h"

#define LOG_LIMIT_DEFAULT 100
#define LOG_LIMIT_MAX 1000000

static void
print_row(void *ctx, const char *const *cols, int ncols)
{
	int i;

	(void)ctx;
	for (i = 0; i < ncols; i++) {
		const char *c = cols[i];

		/* Untrusted text (HELO, addresses): no tabs or line breaks
		 * may break the one-record-a-line output. */
		for (; *c != '\0'; c++)
			putchar(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' :
			    *c);
		putchar(i + 1 < ncols ? '\t' : '\n');
	}
}

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl log rejected [--since DURATION] "
	    "[--ip ADDR] [--limit N]\n"
	    "  DURATION: 30s, 15m, 2h, 7d (default: everything)\n");
	return 2;
}

int
moatctl_log(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "ip", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL, *error = NULL;
	uint64_t since = 0, limit = LOG_LIMIT_DEFAULT;
	struct store *st;
	struct cidr c;
	int ch, r;

	if (argc < 2 || strcmp(argv[1], "rejected") != 0)
		return usage();
	optind = 1;
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_duration(optarg, 1, 100ULL * 365 * 86400,
			    &since, &error) < 0) {
				fprintf(stderr, "moatctl: --since %s: %s\n",
				    optarg, error);
				return 2;
			}
			break;
		case 'i':
			if (cidr_parse(optarg, &c) < 0 || strchr(optarg, '/')) {
				fprintf(stderr, "moatctl: --ip %s: not an "
				    "address\n", optarg);
				return 2;
			}
			ip = optarg;
			break;
		case 'l':
			if (parse_u64(optarg, 1, LOG_LIMIT_MAX, &limit,
			    &error) < 0) {
				fprintf(stderr, "moatctl: --limit %s: %s\n",
				    optarg, error);
				return 2;
			}
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	r = store_reject_list(st, since ? time(NULL) - (time_t)since : 0, ip,
	    (unsigned)limit, print_row, NULL);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: cannot read the rejected log\n");
		return 1;
	}
	return 0;
}
