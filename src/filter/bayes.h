/* bayes: the learning spam filter. A message is tokenized (tokenize.h),
 * each token's spam probability is estimated from how many spam and ham
 * messages it appeared in (Robinson's f(w)), the most significant ones
 * are combined with Fisher's chi-square method (Robinson; as SpamBayes
 * and bogofilter do), and the result is a score in [0, 1] with a verdict
 * from two cutoffs.
 *
 * Counts are kept per scope: the global scope, and one per user (their
 * own Junk moves). A user's counts are added to the global ones once
 * the user has learned at least params.user_min messages.
 *
 * The counts live in the database (store_spam.h); a struct bayes keeps
 * a copy of each scope it uses in memory, keyed by token hash, so that
 * scoring costs one small query (the scope's totals and generation) and
 * hash lookups. When the generation moved (another process learned),
 * only the rows changed since are read; when the scope was forgotten,
 * it is read again. Without a store (bench, tests) the counts live in
 * memory only.
 *
 * Typical use (delivery):
 *	struct bayes *b = bayes_new(st, &cfg_params);
 *	struct bayes_result r;
 *	if (bayes_score(b, msg.data, msg.len, "user@example.org", &r) == 0)
 *		add "X-Spam-Score: r.score", file to Junk if r.verdict ==
 *		BAYES_VERDICT_SPAM
 *	IMAP move to Junk:   bayes_learn(b, m, len, BAYES_SPAM, user,
 *				BAYES_LEARN_GLOBAL)
 *	IMAP move from Junk: bayes_learn(b, m, len, BAYES_HAM, user,
 *				BAYES_LEARN_GLOBAL)   (unlearns the spam first)
 * One struct bayes per process or thread: it is not thread-safe. */
#ifndef MOAT_BAYES_H
#define MOAT_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct store;
struct tokenize;

#define BAYES_SCOPE_MAX		320	/* a user address: 64 + 1 + 255 */
#define BAYES_USER_SCOPES	16	/* user scopes kept in memory */
#define BAYES_CLUES_MAX		1000	/* max_tokens may not exceed it */

enum bayes_class {
	BAYES_HAM = 0,
	BAYES_SPAM = 1,
};

enum bayes_verdict {
	BAYES_VERDICT_HAM = 0,
	BAYES_VERDICT_UNSURE,
	BAYES_VERDICT_SPAM,
};

/* The classifier's parameters; bayes_params_default() fills in the
 * values measured on bench/spam (see bench/README.md). */
struct bayes_params {
	double		s;		/* Robinson's strength of x */
	double		x;		/* f(w) of a token never seen */
	double		min_dev;	/* tokens with |f - 0.5| <= this are
					   ignored */
	unsigned	max_tokens;	/* most significant tokens combined
					   (<= BAYES_CLUES_MAX) */
	double		ham_cutoff;	/* score < ham_cutoff: ham */
	double		spam_cutoff;	/* score >= spam_cutoff: spam */
	unsigned	user_min;	/* messages a user must have taught
					   before the user's counts are used */
	unsigned	min_learned;	/* spam and ham messages each (scopes
					   summed) before scores mean anything;
					   below: untrained */
	unsigned	min_count;	/* messages a token must have been seen
					   in to count */
	double		conflict_ratio;	/* strong clues both ways: the ham
					   side must be this many times
					   stronger (in orders of magnitude)
					   to score below 0.5 */
};

void bayes_params_default(struct bayes_params *p);
/* "ham", "unsure", "spam". */
const char *bayes_verdict_name(enum bayes_verdict v);
enum bayes_verdict bayes_verdict(const struct bayes_params *p, double score);

struct bayes_result {
	double			score;	/* 0: ham .. 1: spam; untrained or
					   no clues: the middle of the unsure
					   band, below spam_cutoff */
	enum bayes_verdict	verdict;
	size_t			ntokens;	/* tokens of the message */
	size_t			nclues;		/* tokens combined */
	bool			user;		/* the user's counts were used */
	bool			untrained;	/* fewer than min_learned spam
						   or ham learned: verdict
						   unsure */
};

/* A token that counted, most significant first (bayes_clues()). */
struct bayes_clue {
	const uint8_t	*token;		/* valid until the next call */
	size_t		 len;
	double		 f;		/* Robinson's f(w) */
	uint32_t	 spam;		/* messages seen in (scopes summed) */
	uint32_t	 ham;
};

/* st may be NULL: counts in memory only. params NULL: the defaults.
 * The store must outlive the filter. */
struct bayes *bayes_new(struct store *st, const struct bayes_params *params);
void bayes_free(struct bayes **b);
const struct bayes_params *bayes_params(const struct bayes *b);

/* Score len octets of a message (untrusted) for user (an address, any
 * case; NULL: the global counts only). Nothing is learned. Returns 0, or
 * -1 on a database error (logged; the caller goes on without a score). */
int bayes_score(struct bayes *b, const uint8_t *msg, size_t len,
    const char *user, struct bayes_result *r);
int bayes_score_buf(struct bayes *b, const struct buf *msg,
    const char *user, struct bayes_result *r);
/* The clues of the last bayes_score(), most significant first, and the
 * tokenizer holding all of the message's tokens (tokenize.h). Both are
 * valid until the next call on b. */
size_t bayes_clues(const struct bayes *b, const struct bayes_clue **clues_r);
const struct tokenize *bayes_tokens(const struct bayes *b);

/* Learning. With user NULL the global scope learns; with a user, the
 * user's scope does, and the global one too when flags has
 * BAYES_LEARN_GLOBAL. All scopes change in one transaction.
 *
 * With a store, each scope remembers a digest of every message it
 * learned: learning a message again as the same class does nothing, and
 * learning it as the other class first unlearns it (a message moved out
 * of Junk). bayes_unlearn() forgets a message learned as cls (a user who
 * takes back a move). Without a store nothing is remembered: learn and
 * unlearn just add or subtract the counts.
 *
 * Return 0 when some scope changed, 1 when nothing was to do, -1 on a
 * database error (logged; nothing changed). */
#define BAYES_LEARN_GLOBAL	0x01
int bayes_learn(struct bayes *b, const uint8_t *msg, size_t len,
    enum bayes_class cls, const char *user, unsigned flags);
int bayes_unlearn(struct bayes *b, const uint8_t *msg, size_t len,
    enum bayes_class cls, const char *user, unsigned flags);

/* Drop the user's scope (counts and digests): 0 or -1. */
int bayes_forget(struct bayes *b, const char *user);

#endif
