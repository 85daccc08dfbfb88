/* test_bayes: scoring after learning (in memory and through the store),
 * the untrained state, relearning as the other class, unlearn, user
 * scopes used only from user_min messages, forget, the cache
 * catching up with learning done through another handle, a new filter
 * never calling anything spam, and messages with strong clues both ways
 * still ordered (not all 0.5). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bayes.h"
#include "store.h"
#include "store_spam.h"

static const char *const spams[] = {
	"Subject: cheap viagra now\n\nbuy cheap pills online viagra "
	"discount pharmacy click here\n",
	"Subject: make money fast\n\nearn cash from home, click here now "
	"cheap offer viagra\n",
	"Subject: pills discount\n\nonline pharmacy cheap pills order "
	"now click\n",
};
static const char *const hams[] = {
	"Subject: meeting tomorrow\n\nthe agenda for the project meeting "
	"is attached, see you tomorrow\n",
	"Subject: patch review\n\nplease review the patch for the build "
	"system before the release\n",
	"Subject: lunch\n\nshall we have lunch after the project meeting "
	"tomorrow\n",
};
#define N (sizeof(spams) / sizeof(spams[0]))

static int
learn_all(struct bayes *b, const char *user, unsigned flags)
{
	size_t i;

	for (i = 0; i < N; i++) {
		if (bayes_learn(b, (const uint8_t *)spams[i], strlen(spams[i]),
		    BAYES_SPAM, user, flags) < 0)
			return -1;
		if (bayes_learn(b, (const uint8_t *)hams[i], strlen(hams[i]),
		    BAYES_HAM, user, flags) < 0)
			return -1;
	}
	return 0;
}

static double
score(struct bayes *b, const char *msg, const char *user)
{
	struct bayes_result r;

	assert_int_equal(bayes_score(b, (const uint8_t *)msg, strlen(msg),
	    user, &r), 0);
	assert_true(r.score >= 0.0 && r.score <= 1.0);
	return r.score;
}

static const char *spamq = "Subject: cheap pills\n\nviagra discount "
    "pharmacy, click here\n";
static const char *hamq = "Subject: project meeting\n\nthe agenda of "
    "the meeting tomorrow\n";

static void
test_memory(void **state)
{
	struct bayes_params p;
	struct bayes *b;
	struct bayes_result r;
	const struct bayes_clue *c;

	(void)state;
	bayes_params_default(&p);
	p.min_learned = 1;
	b = bayes_new(NULL, &p);
	assert_int_equal(bayes_score(b, (const uint8_t *)spamq,
	    strlen(spamq), NULL, &r), 0);
	assert_true(r.untrained);
	assert_int_equal(r.verdict, BAYES_VERDICT_UNSURE);
	assert_int_equal(learn_all(b, NULL, 0), 0);
	assert_true(score(b, spamq, NULL) > 0.9);
	assert_true(score(b, hamq, NULL) < 0.1);
	assert_true(bayes_clues(b, &c) > 0);
	assert_true(c[0].f < 0.5);	/* the last message was ham */
	/* Unlearning everything makes it untrained again. */
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(bayes_unlearn(b, (const uint8_t *)spams[i],
		    strlen(spams[i]), BAYES_SPAM, NULL, 0), 0);
	}
	assert_int_equal(bayes_score(b, (const uint8_t *)spamq,
	    strlen(spamq), NULL, &r), 0);
	assert_true(r.untrained);
	bayes_free(&b);
	assert_null(b);
}

static void
test_store(void **state)
{
	char dir[] = "/tmp/test_bayes.XXXXXX", cmd[64];
	struct bayes_params p;
	struct store *st;
	struct bayes *b, *b2;
	const char *err;
	struct store_spam_totals t;
	bool found;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &st, &err), 0);
	bayes_params_default(&p);
	p.user_min = 4;
	p.min_learned = 1;
	b = bayes_new(st, &p);
	b2 = bayes_new(st, &p);
	assert_int_equal(learn_all(b, NULL, 0), 0);
	/* The same message again: nothing to do. */
	assert_int_equal(bayes_learn(b, (const uint8_t *)spams[0],
	    strlen(spams[0]), BAYES_SPAM, NULL, 0), 1);
	assert_true(score(b, spamq, NULL) > 0.9);
	assert_true(score(b2, hamq, NULL) < 0.1);
	/* Relearned as ham: the spam count goes, the ham count comes. */
	assert_int_equal(bayes_learn(b2, (const uint8_t *)spams[0],
	    strlen(spams[0]), BAYES_HAM, NULL, 0), 0);
	assert_int_equal(store_spam_totals(st, "", &t, &found), 0);
	assert_true(found);
	assert_int_equal(t.nspam, (int64_t)N - 1);
	assert_int_equal(t.nham, (int64_t)N + 1);
	/* b catches up with what b2 learned. */
	(void)score(b, spamq, NULL);
	/* A user: two messages are below user_min, six are not. */
	assert_int_equal(bayes_learn(b, (const uint8_t *)hams[0],
	    strlen(hams[0]), BAYES_SPAM, "User@Example.ORG", 0), 0);
	{
		struct bayes_result r;

		assert_int_equal(bayes_score(b, (const uint8_t *)hamq,
		    strlen(hamq), "user@example.org", &r), 0);
		assert_false(r.user);
		assert_int_equal(learn_all(b, "user@example.org", 0), 0);
		assert_int_equal(bayes_score(b, (const uint8_t *)hamq,
		    strlen(hamq), "user@example.org", &r), 0);
		assert_true(r.user);
	}
	assert_int_equal(bayes_forget(b, "user@example.org"), 0);
	assert_int_equal(store_spam_totals(st, "user@example.org", &t,
	    &found), 0);
	assert_false(found);
	bayes_free(&b);
	bayes_free(&b2);
	store_close(&st);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_verdicts(void **state)
{
	struct bayes_params p;

	(void)state;
	bayes_params_default(&p);
	assert_int_equal(bayes_verdict(&p, 0.0), BAYES_VERDICT_HAM);
	assert_int_equal(bayes_verdict(&p, 1.0), BAYES_VERDICT_SPAM);
	assert_int_equal(bayes_verdict(&p, p.spam_cutoff), BAYES_VERDICT_SPAM);
	assert_string_equal(bayes_verdict_name(BAYES_VERDICT_UNSURE),
	    "unsure");
}

/* A message of the words "<stem>0" .. "<stem>(n-1)" after a Subject. */
static const char *
words_msg(char *out, size_t size, const char *s1, int n1, const char *s2,
    int n2)
{
	size_t len;
	int i;

	len = (size_t)snprintf(out, size, "Subject: note\n\n");
	for (i = 0; i < n1 && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%03d ", s1, i);
	for (i = 0; i < n2 && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%03d ", s2, i);
	assert_true(len < size);
	return out;
}

static void
test_untrained(void **state)
{
	struct bayes_params p;
	struct bayes *b;
	struct bayes_result r;
	char m[4096];
	unsigned i;

	(void)state;
	bayes_params_default(&p);
	assert_true(p.min_learned >= 1);
	b = bayes_new(NULL, &p);
	/* Nothing learned: not spam, whatever the cutoffs are used for. */
	assert_int_equal(bayes_score(b, (const uint8_t *)spamq,
	    strlen(spamq), NULL, &r), 0);
	assert_true(r.untrained);
	assert_true(r.score < p.spam_cutoff);
	assert_int_equal(r.verdict, BAYES_VERDICT_UNSURE);
	/* Below min_learned of either class it stays untrained. */
	for (i = 0; i + 1 < p.min_learned; i++) {
		(void)snprintf(m, sizeof(m), "Subject: offer %u\n\ncheap "
		    "viagra pills %u\n", i, i);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_SPAM, NULL, 0), 0);
		(void)snprintf(m, sizeof(m), "Subject: meeting %u\n\nthe "
		    "project agenda %u\n", i, i);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_HAM, NULL, 0), 0);
	}
	assert_int_equal(bayes_score(b, (const uint8_t *)spamq,
	    strlen(spamq), NULL, &r), 0);
	assert_true(r.untrained);
	assert_true(r.score < p.spam_cutoff);
	/* One more of each: trained, and the spam is spam. */
	assert_int_equal(learn_all(b, NULL, 0), 0);
	assert_int_equal(bayes_score(b, (const uint8_t *)spamq,
	    strlen(spamq), NULL, &r), 0);
	assert_false(r.untrained);
	assert_int_equal(r.verdict, BAYES_VERDICT_SPAM);
	/* A message without a single known token is not spam either. */
	(void)snprintf(m, sizeof(m), "\n\nzzqx1 zzqx2 zzqx3\n");
	assert_int_equal(bayes_score(b, (const uint8_t *)m, strlen(m), NULL,
	    &r), 0);
	assert_true(r.score < p.spam_cutoff);
	bayes_free(&b);
}

/* Many clues of certainty both ways: both chi-square tails underflow,
 * and the side with more of them still wins, by a margin that grows
 * with the imbalance. */
static void
test_saturated(void **state)
{
	struct bayes_params p;
	struct bayes *b;
	struct bayes_result r;
	char m[8192];
	double sc[5];
	int i, k;

	(void)state;
	bayes_params_default(&p);
	p.min_learned = 1;
	p.max_tokens = 200;
	p.conflict_ratio = 1.0;		/* the two sides weigh the same */
	b = bayes_new(NULL, &p);
	for (i = 0; i < 3; i++) {
		words_msg(m, sizeof(m), "spamw", 80, "", 0);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_SPAM, NULL, 0), 0);
		words_msg(m, sizeof(m), "hamw", 80, "", 0);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_HAM, NULL, 0), 0);
	}
	/* 70/50, 65/55, 60/60, 55/65, 50/70 spam/ham words. */
	for (k = 0; k < 5; k++) {
		words_msg(m, sizeof(m), "spamw", 70 - 5 * k, "hamw",
		    50 + 5 * k);
		assert_int_equal(bayes_score(b, (const uint8_t *)m, strlen(m),
		    NULL, &r), 0);
		assert_true(r.nclues >= 100);
		sc[k] = r.score;
	}
	assert_true(sc[0] > sc[1] && sc[1] > sc[2] && sc[2] > sc[3] &&
	    sc[3] > sc[4]);
	assert_true(sc[1] >= p.spam_cutoff);
	assert_true(sc[3] < p.spam_cutoff);
	/* Conflicting evidence is not certainty: the unsure band. */
	assert_true(sc[0] < 0.9 && sc[4] > 0.1);
	bayes_free(&b);
	/* With the default ratio an even conflict leans to spam. */
	bayes_params_default(&p);
	p.min_learned = 1;
	p.max_tokens = 200;
	b = bayes_new(NULL, &p);
	for (i = 0; i < 3; i++) {
		words_msg(m, sizeof(m), "spamw", 80, "", 0);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_SPAM, NULL, 0), 0);
		words_msg(m, sizeof(m), "hamw", 80, "", 0);
		assert_int_equal(bayes_learn(b, (const uint8_t *)m, strlen(m),
		    BAYES_HAM, NULL, 0), 0);
	}
	words_msg(m, sizeof(m), "spamw", 60, "hamw", 60);
	assert_int_equal(bayes_score(b, (const uint8_t *)m, strlen(m), NULL,
	    &r), 0);
	assert_true(r.score >= p.spam_cutoff && r.score < 0.9);
	bayes_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_untrained),
		cmocka_unit_test(test_saturated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
