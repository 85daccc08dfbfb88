/* bench_spam: drives the Bayesian filter (src/filter/bayes.c, counts in
 * memory) over a labelled corpus for bench/spam/run.sh: 5-fold cross-
 * validation, the TREC online protocol (score, then learn the true
 * label, in arrival order), or the tokens of one message. Messages are
 * read into memory first, so the timings are the filter's CPU alone.
 *
 *	bench_spam cv LIST       LIST lines: FOLD TAB LABEL TAB PATH
 *	bench_spam online LIST   in arrival order
 *	bench_spam tokens FILE
 * Output: "score FOLD LABEL SCORE PATH" per scored message and
 * "time FOLD MESSAGES CPU_SECONDS WALL_SECONDS" per timed block; cv also
 * times the spam rules (spam_rules.h: the header and link rules the SMTP
 * stage adds to the Bayesian score) over every message, as "rules_time
 * MESSAGES CPU_SECONDS WALL_SECONDS". The
 * environment may override the parameters: BAYES_S, BAYES_X,
 * BAYES_MIN_DEV, BAYES_MAX_TOKENS, BAYES_MIN_COUNT, BAYES_MIN_LEARNED,
 * BAYES_CONFLICT_RATIO. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bayes.h"
#include "spam_rules.h"
#include "tokenize.h"

#define LINE_MAX_	4096
#define MSGS_MAX	100000
#define FOLDS		5

struct msg {
	int		 fold;
	int		 spam;
	char		*path;
	uint8_t		*data;
	size_t		 len;
};

static struct msg msgs[MSGS_MAX];
static size_t nmsgs;

static uint8_t *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	uint8_t *p;

	if (f == NULL || fstat(fileno(f), &sb) < 0) {
		fprintf(stderr, "bench_spam: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	p = malloc((size_t)sb.st_size + 1);
	if (p == NULL || fread(p, 1, (size_t)sb.st_size, f) !=
	    (size_t)sb.st_size) {
		fprintf(stderr, "bench_spam: %s: read failed\n", path);
		exit(1);
	}
	fclose(f);
	*len_r = (size_t)sb.st_size;
	return p;
}

static void
load(const char *list)
{
	char line[LINE_MAX_], label[16], *path;
	FILE *f = fopen(list, "r");
	int fold;

	if (f == NULL) {
		perror(list);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		path = strrchr(line, '\t');
		if (path == NULL || sscanf(line, "%d\t%15s", &fold, label) != 2)
			continue;
		if (nmsgs == MSGS_MAX) {
			fprintf(stderr, "bench_spam: too many messages\n");
			exit(1);
		}
		msgs[nmsgs].fold = fold;
		msgs[nmsgs].spam = strcmp(label, "spam") == 0;
		msgs[nmsgs].path = strdup(path + 1);
		msgs[nmsgs].data = slurp(path + 1, &msgs[nmsgs].len);
		nmsgs++;
	}
	fclose(f);
}

static double
now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
params(struct bayes_params *p)
{
	const char *v;

	bayes_params_default(p);
	if ((v = getenv("BAYES_S")) != NULL)
		p->s = strtod(v, NULL);
	if ((v = getenv("BAYES_X")) != NULL)
		p->x = strtod(v, NULL);
	if ((v = getenv("BAYES_MIN_DEV")) != NULL)
		p->min_dev = strtod(v, NULL);
	if ((v = getenv("BAYES_MAX_TOKENS")) != NULL)
		p->max_tokens = (unsigned)strtoul(v, NULL, 10);
	if ((v = getenv("BAYES_MIN_COUNT")) != NULL)
		p->min_count = (unsigned)strtoul(v, NULL, 10);
	if ((v = getenv("BAYES_CONFLICT_RATIO")) != NULL)
		p->conflict_ratio = strtod(v, NULL);
	if ((v = getenv("BAYES_MIN_LEARNED")) != NULL)
		p->min_learned = (unsigned)strtoul(v, NULL, 10);
}

static void
learn(struct bayes *b, const struct msg *m)
{
	if (bayes_learn(b, m->data, m->len, m->spam ? BAYES_SPAM : BAYES_HAM,
	    NULL, 0) < 0) {
		fprintf(stderr, "bench_spam: learn failed\n");
		exit(1);
	}
}

static double
score(struct bayes *b, const struct msg *m)
{
	struct bayes_result r;

	if (bayes_score(b, m->data, m->len, NULL, &r) < 0) {
		fprintf(stderr, "bench_spam: score failed\n");
		exit(1);
	}
	return r.score;
}

/* The rule half of the SMTP stage's score, over every message. */
static void
rules_time(void)
{
	struct spam_facts f;
	struct spam_rules_result r;
	double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
	double sum = 0;
	size_t i;

	spam_facts_init(&f);
	for (i = 0; i < nmsgs; i++) {
		spam_rules_eval(&f, msgs[i].data, msgs[i].len, &r);
		sum += r.sum;
	}
	printf("rules_time\t%zu\t%.6f\t%.6f\t%.3f\n", nmsgs,
	    now(CLOCK_THREAD_CPUTIME_ID) - c0, now(CLOCK_MONOTONIC) - w0,
	    sum);
}

static void
cv(void)
{
	struct bayes_params p;
	struct bayes *b;
	double *sc, c0, w0;
	size_t i, n;
	int k;

	params(&p);
	sc = calloc(nmsgs, sizeof(*sc));
	for (k = 0; k < FOLDS; k++) {
		b = bayes_new(NULL, &p);
		for (i = 0; i < nmsgs; i++)
			if (msgs[i].fold != k)
				learn(b, &msgs[i]);
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		w0 = now(CLOCK_MONOTONIC);
		for (i = n = 0; i < nmsgs; i++)
			if (msgs[i].fold == k) {
				sc[i] = score(b, &msgs[i]);
				n++;
			}
		printf("time\t%d\t%zu\t%.6f\t%.6f\n", k, n,
		    now(CLOCK_THREAD_CPUTIME_ID) - c0,
		    now(CLOCK_MONOTONIC) - w0);
		for (i = 0; i < nmsgs; i++)
			if (msgs[i].fold == k)
				printf("score\t%d\t%s\t%.9f\t%s\n", k,
				    msgs[i].spam ? "spam" : "ham", sc[i],
				    msgs[i].path);
		bayes_free(&b);
	}
	free(sc);
	rules_time();
}

static void
online(void)
{
	struct bayes_params p;
	struct bayes *b;
	double s, c0, w0, cpu = 0, wall = 0;
	size_t i;

	params(&p);
	b = bayes_new(NULL, &p);
	for (i = 0; i < nmsgs; i++) {
		c0 = now(CLOCK_THREAD_CPUTIME_ID);
		w0 = now(CLOCK_MONOTONIC);
		s = score(b, &msgs[i]);
		cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall += now(CLOCK_MONOTONIC) - w0;
		printf("score\t0\t%s\t%.9f\t%s\n", msgs[i].spam ? "spam" :
		    "ham", s, msgs[i].path);
		learn(b, &msgs[i]);
	}
	printf("time\t0\t%zu\t%.6f\t%.6f\n", nmsgs, cpu, wall);
	bayes_free(&b);
}

static void
tokens(const char *path)
{
	struct tokenize *t = tokenize_new();
	const uint8_t *p;
	uint8_t *data;
	size_t len, i, n;

	data = slurp(path, &len);
	tokenize_message(t, data, len);
	for (i = 0; i < tokenize_count(t); i++) {
		p = tokenize_token(t, i, &n);
		fwrite(p, 1, n, stdout);
		putchar('\n');
	}
	tokenize_free(&t);
	free(data);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "tokens") == 0) {
		tokens(argv[2]);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: bench_spam cv|online LIST | "
		    "tokens FILE\n");
		return 2;
	}
	load(argv[2]);
	if (strcmp(argv[1], "cv") == 0)
		cv();
	else if (strcmp(argv[1], "online") == 0)
		online();
	else
		return 2;
	return 0;
}
