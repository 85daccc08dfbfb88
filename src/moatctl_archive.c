/* moatctl_archive: the archive commands: verify the hash chains and
 * stored files, search the indexes, export matches as an mboxrd mailbox,
 * expire old days of a domain. Reads and writes <data_dir>/archive
 * directly (src/store/archive.c); safe while moatd runs, since indexes
 * are locked and files replaced atomically. */
#include "moatctl_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "util.h"

#define ARCHIVE_CTL_DAYS_MAX	(100 * 366)	/* --days bound */
#define ARCHIVE_CTL_USAGE \
	"usage: moatctl archive verify [--since DATE]\n" \
	"       moatctl archive search [FILTERS]\n" \
	"       moatctl archive export [FILTERS] --mbox FILE\n" \
	"       moatctl archive expire --domain D --days N\n" \
	"FILTERS: --from A --to A --subject S --since DATE --until DATE\n" \
	"         --text WORD --domain D --direction in|out\n" \
	"DATE: YYYY-MM-DD (UTC) or seconds since the epoch\n"

enum {
	OPT_FROM = 1, OPT_TO, OPT_SUBJECT, OPT_SINCE, OPT_UNTIL, OPT_TEXT,
	OPT_DOMAIN, OPT_DIRECTION, OPT_MBOX, OPT_DAYS,
};

static const struct option archive_opts[] = {
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "text", required_argument, NULL, OPT_TEXT },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "direction", required_argument, NULL, OPT_DIRECTION },
	{ "mbox", required_argument, NULL, OPT_MBOX },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct archive_query	 q;
	const char		*mbox;
	uint64_t		 days;
	bool			 have_days;
};

/* YYYY-MM-DD (UTC; end_of_day: its last second) or epoch seconds. */
static int
parse_date(const char *s, bool end_of_day, time_t *t_r)
{
	struct tm tm;
	uint64_t v;
	const char *err;
	char *end;

	if (parse_u64(s, 0, INT64_MAX / 2, &v, &err) == 0) {
		*t_r = (time_t)v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0' || strlen(s) != 10)
		return -1;
	*t_r = timegm(&tm);
	if (*t_r == (time_t)-1)
		return -1;
	if (end_of_day)
		*t_r += 86399;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	const char *err;
	int ch;

	memset(a, 0, sizeof(*a));
	a->q.any_direction = true;
	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "", archive_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_FROM:
			a->q.from = optarg;
			break;
		case OPT_TO:
			a->q.to = optarg;
			break;
		case OPT_SUBJECT:
			a->q.subject = optarg;
			break;
		case OPT_TEXT:
			a->q.text = optarg;
			break;
		case OPT_DOMAIN:
			a->q.domain = optarg;
			break;
		case OPT_MBOX:
			a->mbox = optarg;
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (parse_date(optarg, ch == OPT_UNTIL,
			    ch == OPT_SINCE ? &a->q.since : &a->q.until) < 0) {
				fprintf(stderr, "moatctl: archive: %s: not a "
				    "date (YYYY-MM-DD)\n", optarg);
				return -1;
			}
			break;
		case OPT_DIRECTION:
			if (archive_direction_parse(optarg,
			    &a->q.direction) < 0) {
				fprintf(stderr, "moatctl: archive: --direction "
				    "is in or out\n");
				return -1;
			}
			a->q.any_direction = false;
			break;
		case OPT_DAYS:
			if (parse_u64(optarg, 1, ARCHIVE_CTL_DAYS_MAX,
			    &a->days, &err) < 0) {
				fprintf(stderr, "moatctl: archive: --days: "
				    "%s\n", err);
				return -1;
			}
			a->have_days = true;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "moatctl: archive: unexpected argument: %s\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

static void
print_problem(void *ctx, const char *path, const char *what)
{
	(void)ctx;
	printf("%s: %s\n", path, what);
}

static int
cmd_verify(const struct config *cfg, const struct args *a)
{
	struct archive_verify_result res;
	const char *err;

	if (a->q.from || a->q.to || a->q.subject || a->q.text ||
	    a->q.domain || a->q.until || !a->q.any_direction || a->mbox ||
	    a->have_days) {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	if (archive_verify(cfg->data_dir, a->q.since, print_problem, NULL,
	    &res, &err) < 0) {
		fprintf(stderr, "moatctl: archive verify: %s\n", err);
		return 1;
	}
	if (res.problems > 0)
		return 1;
	printf("ok %zu messages\n", res.messages);
	return 0;
}

static int
print_hit(void *ctx, const char *domain, const char *path,
    const struct archive_entry *e)
{
	char when[32];

	(void)ctx;
	(void)domain;
	(void)path;
	time_iso((time_t)e->time, when, sizeof(when));
	/* Index fields hold no tab or newline: one hit, one line. */
	printf("%s\t%s\t%s\t<%s>\t%s\t%s\n", when,
	    archive_direction_name(e->direction), e->id, e->from, e->to,
	    e->subject);
	return 0;
}

static int
cmd_search(const struct config *cfg, const struct args *a)
{
	const char *err;

	if (a->mbox != NULL || a->have_days) {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	if (archive_search(cfg->data_dir, &a->q, print_hit, NULL, &err) < 0) {
		fprintf(stderr, "moatctl: archive search: %s\n", err);
		return 1;
	}
	return 0;
}

static int
cmd_export(const struct config *cfg, const struct args *a)
{
	const char *err;
	long n;
	FILE *fp;
	int fd;

	if (a->mbox == NULL || a->have_days) {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	fd = open(a->mbox, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", a->mbox, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	n = archive_export_mbox(cfg->data_dir, &a->q, fp, &err);
	if (n < 0) {
		fprintf(stderr, "moatctl: archive export: %s\n", err);
		fclose(fp);
		return 1;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "moatctl: %s: %s\n", a->mbox, strerror(errno));
		return 1;
	}
	printf("exported %ld messages to %s\n", n, a->mbox);
	return 0;
}

static int
cmd_expire(const struct config *cfg, const struct args *a)
{
	const char *err;
	long n;

	if (a->q.domain == NULL || !a->have_days || a->q.from || a->q.to ||
	    a->q.subject || a->q.text || a->q.since || a->q.until ||
	    !a->q.any_direction || a->mbox != NULL) {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	n = archive_expire(cfg->data_dir, a->q.domain,
	    time(NULL) - (time_t)a->days * 86400, &err);
	if (n < 0) {
		fprintf(stderr, "moatctl: archive expire: %s\n", err);
		return 1;
	}
	printf("expired %ld days of %s\n", n, a->q.domain);
	return 0;
}

int
moatctl_archive(const struct config *cfg, int argc, char **argv)
{
	struct args a;
	int rc;

	if (argc < 2 || strcmp(argv[1], "help") == 0) {
		fputs(ARCHIVE_CTL_USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* argv[1] is the command; its options follow. */
	if (parse_args(argc - 1, argv + 1, &a) < 0) {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	if (strcmp(argv[1], "verify") == 0)
		rc = cmd_verify(cfg, &a);
	else if (strcmp(argv[1], "search") == 0)
		rc = cmd_search(cfg, &a);
	else if (strcmp(argv[1], "export") == 0)
		rc = cmd_export(cfg, &a);
	else if (strcmp(argv[1], "expire") == 0)
		rc = cmd_expire(cfg, &a);
	else {
		fputs(ARCHIVE_CTL_USAGE, stderr);
		return 2;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "moatctl: write error: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
