/* moatctl_spam: the admin side of the Bayesian filter (bayes.h) on the
 * live token database. "train" learns messages from files or directories
 * (recursively: a Maildir, or one message per file) as spam or ham,
 * globally or for one user; "score" prints SCORE VERDICT FILE without
 * learning; "stats" shows what each scope has learned; "forget" drops a
 * user's own training. */
#include "moatctl_spam.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bayes.h"
#include "buf.h"
#include "store.h"
#include "store_spam.h"

#define SPAM_MSG_MAX	(64 * 1024 * 1024)	/* octets of one message */
#define SPAM_FDS	16			/* nftw descriptors */

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl spam train [--user ADDR] "
	    "--spam PATH... --ham PATH...\n"
	    "       moatctl spam score [--user ADDR] FILE...\n"
	    "       moatctl spam stats\n"
	    "       moatctl spam forget --user ADDR\n"
	    "  PATH: a message file or a directory of them (recursively)\n");
	return 2;
}

/* Read a whole file into b (reset first): 0 or -1 (reported). */
static int
read_file(const char *path, struct buf *b)
{
	uint8_t chunk[65536];
	ssize_t n;
	int fd;

	buf_reset(b);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) < 0) {
			fprintf(stderr, "moatctl: %s: larger than %d octets, "
			    "skipped\n", path, SPAM_MSG_MAX);
			(void)close(fd);
			return -1;
		}
	if (n < 0)
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
	(void)close(fd);
	return n < 0 ? -1 : 0;
}

/* nftw has no context argument: the state of the running walk. */
static struct {
	struct bayes		*b;
	struct buf		 msg;
	enum bayes_class	 cls;
	const char		*user;
	unsigned long		 learned, known, failed;
	bool			 dberr;
} walk;

static int
train_one(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	const char *base = path + ftw->base;
	int r;

	(void)sb;
	if (type != FTW_F || base[0] == '.')
		return 0;	/* directories, dot files (Maildir state) */
	if (read_file(path, &walk.msg) < 0) {
		walk.failed++;
		return 0;
	}
	r = bayes_learn(walk.b, walk.msg.data, walk.msg.len, walk.cls,
	    walk.user, 0);
	if (r < 0) {
		walk.dberr = true;
		return 1;	/* stop the walk */
	}
	if (r == 0)
		walk.learned++;
	else
		walk.known++;
	return 0;
}

static int
spam_train(struct bayes *b, int argc, char **argv, const char *user)
{
	unsigned long ns = 0, nh = 0;
	bool have_class = false;
	int i;

	walk.b = b;
	walk.user = user;
	buf_init(&walk.msg, SPAM_MSG_MAX);
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--spam") == 0) {
			walk.cls = BAYES_SPAM;
			have_class = true;
			continue;
		}
		if (strcmp(argv[i], "--ham") == 0) {
			walk.cls = BAYES_HAM;
			have_class = true;
			continue;
		}
		if (!have_class) {
			buf_deinit(&walk.msg);
			return usage();
		}
		walk.learned = 0;
		if (nftw(argv[i], train_one, SPAM_FDS, FTW_PHYS) < 0) {
			fprintf(stderr, "moatctl: %s: %s\n", argv[i],
			    strerror(errno));
			walk.failed++;
		}
		if (walk.dberr)
			break;
		if (walk.cls == BAYES_SPAM)
			ns += walk.learned;
		else
			nh += walk.learned;
	}
	buf_deinit(&walk.msg);
	if (walk.dberr) {
		fprintf(stderr, "moatctl: database error while learning\n");
		return 1;
	}
	printf("learned %lu spam, %lu ham%s%s; %lu already known, "
	    "%lu unreadable\n", ns, nh, user != NULL ? " for " : "",
	    user != NULL ? user : "", walk.known, walk.failed);
	return walk.failed > 0 ? 1 : 0;
}

static int
spam_score(struct bayes *b, int argc, char **argv, const char *user)
{
	struct bayes_result r;
	struct buf msg;
	int i, rc = 0;

	buf_init(&msg, SPAM_MSG_MAX);
	for (i = 0; i < argc; i++) {
		if (read_file(argv[i], &msg) < 0) {
			rc = 1;
			continue;
		}
		if (bayes_score_buf(b, &msg, user, &r) < 0) {
			fprintf(stderr, "moatctl: database error\n");
			rc = 1;
			break;
		}
		printf("%.4f %s %s\n", r.score, bayes_verdict_name(r.verdict),
		    argv[i]);
	}
	buf_deinit(&msg);
	return rc;
}

static void
stats_row(void *ctx, const char *const *cols, int ncols)
{
	(void)ctx;
	if (ncols != 4)
		return;
	printf("%-32s %10s %10s %10s\n", cols[0][0] == '\0' ? "(global)" :
	    cols[0], cols[1], cols[2], cols[3]);
}

int
moatctl_spam(const struct config *cfg, int argc, char **argv)
{
	const char *cmd, *user = NULL, *error;
	struct bayes_params params;
	struct store *st;
	struct bayes *b;
	int i = 2, rc;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	/* --user ADDR may come first (train, score, forget). */
	if (argc > 3 && strcmp(argv[2], "--user") == 0) {
		user = argv[3];
		i = 4;
	}
	if (user != NULL && strlen(user) > BAYES_SCOPE_MAX) {
		fprintf(stderr, "moatctl: user address too long\n");
		return 2;
	}
	if ((strcmp(cmd, "score") == 0 && i >= argc) ||
	    (strcmp(cmd, "train") == 0 && i >= argc) ||
	    (strcmp(cmd, "stats") == 0 && argc != 2) ||
	    (strcmp(cmd, "forget") == 0 && (user == NULL || argc != 4)))
		return usage();
	if (strcmp(cmd, "score") != 0 && strcmp(cmd, "train") != 0 &&
	    strcmp(cmd, "stats") != 0 && strcmp(cmd, "forget") != 0)
		return usage();
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	bayes_params_default(&params);
	params.user_min = cfg->spam_user_min;	/* as the server scores */
	b = bayes_new(st, &params);
	if (strcmp(cmd, "train") == 0)
		rc = spam_train(b, argc - i, argv + i, user);
	else if (strcmp(cmd, "score") == 0)
		rc = spam_score(b, argc - i, argv + i, user);
	else if (strcmp(cmd, "stats") == 0) {
		printf("%-32s %10s %10s %10s\n", "scope", "spam", "ham",
		    "tokens");
		rc = store_spam_stats(st, stats_row, NULL) < 0 ? 1 : 0;
	} else {
		rc = bayes_forget(b, user) < 0 ? 1 : 0;
		if (rc == 0)
			printf("forgot the training of %s\n", user);
	}
	bayes_free(&b);
	store_close(&st);
	return rc;
}
