/* store_spam: the SQL of the Bayesian filter's tables (schema 7 in
 * store_sql.c): spam_tokens (per scope and token, the number of spam
 * and ham messages it appeared in, and the generation that last changed
 * it), spam_totals (messages learned per scope, its generation and
 * epoch) and spam_learned (digests of learned messages). The scope ''
 * is the global one, else a user address in lower case. Tokens are
 * opaque octets here; bayes.c decides what they are. */
#ifndef MOAT_STORE_SPAM_H
#define MOAT_STORE_SPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_SPAM_DIGEST_LEN	16	/* octets of a message digest */

struct store_spam_totals {
	int64_t	nspam;
	int64_t	nham;
	int64_t	gen;	/* bumped by every learn in the scope */
	int64_t	epoch;	/* changes when the scope is forgotten */
};

/* The totals of scope; *found_r false (totals zeroed) when the scope
 * has learned nothing. 0 or -1. */
int store_spam_totals(struct store *st, const char *scope,
    struct store_spam_totals *t_r, bool *found_r);

/* Every token row of scope with gen > since (since < 0: all rows) to
 * cb. 0 or -1. */
typedef void store_spam_token_cb(void *ctx, const uint8_t *token,
    size_t len, int64_t spam, int64_t ham);
int store_spam_tokens(struct store *st, const char *scope, int64_t since,
    store_spam_token_cb *cb, void *ctx);

/* Learning, between store_tx(st, "BEGIN IMMEDIATE") and "COMMIT"
 * (bayes.c holds the transaction: one per message).
 *
 * The class a message with this digest was learned as in scope: 0 ham,
 * 1 spam, -1 not learned. 0 or -1 (error). */
int store_spam_learned(struct store *st, const char *scope,
    const uint8_t digest[STORE_SPAM_DIGEST_LEN], int *class_r);
/* Record (cls 0/1) or forget (cls -1) a learned digest. 0 or -1. */
int store_spam_learned_set(struct store *st, const char *scope,
    const uint8_t digest[STORE_SPAM_DIGEST_LEN], int cls, int64_t when);
/* Add dspam/dham (may be negative; totals never drop below 0) to the
 * scope's totals, creating it, and bump its generation: *gen_r is the
 * new one, for the token rows written in this learn. 0 or -1. */
int store_spam_bump(struct store *st, const char *scope, int64_t dspam,
    int64_t dham, int64_t *gen_r);
/* Add dspam/dham (may be negative; counts stop at 0) to a token's row,
 * creating it, and stamp it with gen. 0 or -1. */
int store_spam_token_add(struct store *st, const char *scope,
    const uint8_t *token, size_t len, int64_t dspam, int64_t dham,
    int64_t gen);

/* Delete everything of scope: 0 or -1. */
int store_spam_forget(struct store *st, const char *scope);
/* One message's learning is one transaction: "BEGIN IMMEDIATE",
 * "COMMIT" or "ROLLBACK". 0 or -1. */
int store_spam_tx(struct store *st, const char *verb);

/* One line per scope for "moatctl spam stats": scope, nspam, nham,
 * number of token rows (as strings, in this order), global first. */
int store_spam_stats(struct store *st, store_row_cb *cb, void *ctx);

#endif
