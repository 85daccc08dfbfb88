/* moatctl_log: queries of the rejected-session log that every refusal
 * writes (store_reject_log). "log rejected": newest first, one row per
 * line, tab-separated: time, service, ip, rdns, session, helo, sender,
 * recipient, code, rule, reason, ref, shadow. "log show REF": the
 * decision trace of the session a refusal quoted, its log rows, and the
 * commands that would let that client or sender in. */
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
	    "[--ip ADDR] [--rule TEXT] [--limit N]\n"
	    "       moatctl log show REF\n"
	    "  DURATION: 30s, 15m, 2h, 7d (default: everything)\n");
	return 2;
}

/* Columns of a log row (store_reject_list). */
enum { COL_TIME, COL_SERVICE, COL_IP, COL_RDNS, COL_SESSION, COL_HELO,
	COL_FROM, COL_RCPT, COL_CODE, COL_RULE, COL_REASON, COL_REF,
	COL_SHADOW, COL_COUNT };

struct show_ctx {
	char	ip[64];
	char	from[512];
	char	rcpt[512];
	char	rule[512];
};

static void
keep(char *dst, size_t len, const char *src)
{
	if (src[0] != '\0')
		moat_strlcpy(dst, src, len);
}

static void
show_row(void *ctx, const char *const *cols, int ncols)
{
	struct show_ctx *sc = ctx;
	const char *c;

	if (ncols == 4 && strcmp(cols[0], "trace") == 0) {
		printf("session %s at %s\ndecision trace:\n", cols[2],
		    cols[1]);
		/* The trace is our own text, but holds client input. */
		for (c = cols[3]; *c != '\0'; c++)
			putchar(*c == '\n' || (*c >= 0x20 && *c < 0x7f) ? *c :
			    '?');
		return;
	}
	if (ncols != COL_COUNT)
		return;
	printf("refused: ");
	print_row(NULL, cols, ncols);
	keep(sc->ip, sizeof(sc->ip), cols[COL_IP]);
	keep(sc->from, sizeof(sc->from), cols[COL_FROM]);
	keep(sc->rcpt, sizeof(sc->rcpt), cols[COL_RCPT]);
	keep(sc->rule, sizeof(sc->rule), cols[COL_RULE]);
}

/* What an admin would type to let this one through. */
static void
show_remedies(const struct show_ctx *sc)
{
	printf("to allow:\n");
	if (strncmp(sc->rule, "ban", 3) == 0 && sc->ip[0] != '\0')
		printf("  moatctl ban del %s\n", sc->ip);
	if (sc->ip[0] != '\0')
		printf("  moatctl screen allow add ip %s\n", sc->ip);
	if (sc->from[0] != '\0')
		printf("  moatctl screen allow add sender %s\n", sc->from);
	if (strncmp(sc->rule, "hijack", 6) == 0)
		printf("  moatctl account unfreeze ADDRESS\n");
}

static int
log_show(const struct config *cfg, const char *ref)
{
	struct show_ctx sc;
	struct store *st;
	const char *error;
	bool found;
	int r;

	memset(&sc, 0, sizeof(sc));
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	r = store_reject_show(st, ref, show_row, &sc, &found);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: cannot read the rejected log\n");
		return 1;
	}
	if (!found) {
		fprintf(stderr, "moatctl: no refusal with reference %s\n",
		    ref);
		return 1;
	}
	show_remedies(&sc);
	return 0;
}

int
moatctl_log(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "ip", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'l' },
		{ "rule", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_reject_query q = { 0 };
	const char *ip = NULL, *error = NULL;
	uint64_t since = 0, limit = LOG_LIMIT_DEFAULT;
	struct store *st;
	struct cidr c;
	int ch, r;

	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return log_show(cfg, argv[2]);
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
		case 'r':
			q.rule = optarg;
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
	q.since = since ? time(NULL) - (time_t)since : 0;
	q.ip = ip;
	q.limit = (unsigned)limit;
	r = store_reject_list(st, &q, print_row, NULL);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: cannot read the rejected log\n");
		return 1;
	}
	return 0;
}
