/* test_bayes: scoring after learning (in memory and through the store),
 * the untrained state, relearning as the other class, unlearn, user
 * scopes used only from user_min messages, forget, and the cache
 * catching up with learning done through another handle. */
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
	struct bayes *b = bayes_new(NULL, NULL);
	struct bayes_result r;
	const struct bayes_clue *c;

	(void)state;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_store),
		cmocka_unit_test(test_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
