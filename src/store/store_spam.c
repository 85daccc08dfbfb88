/* store_spam: the SQL of the Bayesian filter's tables: totals, token
 * rows read whole or since a generation, the per-message upserts of a
 * learn, learned-message digests, forgetting a scope and the stats.
 * See store_spam.h; the schema is migration 6 -> 7 in store_sql.c. */
#include "store_spam.h"
#include "store_int.h"

#include <string.h>

enum {
	SP_TOTALS = 0,
	SP_TOKENS,
	SP_LEARNED,
	SP_LEARNED_SET,
	SP_LEARNED_DEL,
	SP_SCOPE_NEW,
	SP_BUMP,
	SP_TOKEN_ADD,
	SP_FORGET_TOKENS,
	SP_FORGET_TOTALS,
	SP_FORGET_LEARNED,
	SP_STATS,
	SP_COUNT
};

_Static_assert(SP_COUNT <= 32, "store_spam.c has slots 96..127");

static const char *const sp_sql[SP_COUNT] = {
	[SP_TOTALS] =
	    "SELECT nspam, nham, gen, epoch FROM spam_totals WHERE scope = ?1",
	[SP_TOKENS] =
	    "SELECT token, spam, ham FROM spam_tokens"
	    " WHERE scope = ?1 AND gen > ?2",
	[SP_LEARNED] =
	    "SELECT class FROM spam_learned WHERE scope = ?1 AND digest = ?2",
	[SP_LEARNED_SET] =
	    "INSERT INTO spam_learned (scope, digest, class, time)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope, digest)"
	    " DO UPDATE SET class = excluded.class, time = excluded.time",
	[SP_LEARNED_DEL] =
	    "DELETE FROM spam_learned WHERE scope = ?1 AND digest = ?2",
	/* A new scope gets a random epoch: a cache of a forgotten scope
	 * of the same name must not take the new one for its own. */
	[SP_SCOPE_NEW] =
	    "INSERT INTO spam_totals (scope, epoch) VALUES (?1, random())"
	    " ON CONFLICT (scope) DO NOTHING",
	[SP_BUMP] =
	    "UPDATE spam_totals SET nspam = max(0, nspam + ?2),"
	    " nham = max(0, nham + ?3), gen = gen + 1 WHERE scope = ?1"
	    " RETURNING gen",
	[SP_TOKEN_ADD] =
	    "INSERT INTO spam_tokens (scope, token, spam, ham, gen)"
	    " VALUES (?1, ?2, max(0, ?3), max(0, ?4), ?5)"
	    " ON CONFLICT (scope, token) DO UPDATE SET"
	    " spam = max(0, spam + ?3), ham = max(0, ham + ?4), gen = ?5",
	[SP_FORGET_TOKENS] =
	    "DELETE FROM spam_tokens WHERE scope = ?1",
	[SP_FORGET_TOTALS] =
	    "DELETE FROM spam_totals WHERE scope = ?1",
	[SP_FORGET_LEARNED] =
	    "DELETE FROM spam_learned WHERE scope = ?1",
	[SP_STATS] =
	    "SELECT t.scope, t.nspam, t.nham,"
	    " (SELECT count(*) FROM spam_tokens k WHERE k.scope = t.scope)"
	    " FROM spam_totals t ORDER BY t.scope",
};

static sqlite3_stmt *
sp(struct store *st, unsigned id)
{
	return store_ext_stmt(st, STORE_EXT_SPAM + id, sp_sql[id]);
}

static int
bind_blob(sqlite3_stmt *s, int idx, const uint8_t *p, size_t len)
{
	return sqlite3_bind_blob(s, idx, p, (int)len, SQLITE_STATIC) ==
	    SQLITE_OK ? 0 : -1;
}

/* Step a statement that returns no rows; log a failure. 0 or -1. */
static int
exec(struct store *st, sqlite3_stmt *s, const char *what)
{
	if (store_stmt_exec(s) != 0) {
		(void)store_db_error(st, what);
		store_stmt_done(s);
		return -1;
	}
	return 0;
}

int
store_spam_totals(struct store *st, const char *scope,
    struct store_spam_totals *t_r, bool *found_r)
{
	sqlite3_stmt *s = sp(st, SP_TOTALS);
	int rc;

	memset(t_r, 0, sizeof(*t_r));
	*found_r = false;
	if (s == NULL || store_bind_text(s, 1, scope) < 0)
		goto fail;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t_r->nspam = sqlite3_column_int64(s, 0);
		t_r->nham = sqlite3_column_int64(s, 1);
		t_r->gen = sqlite3_column_int64(s, 2);
		t_r->epoch = sqlite3_column_int64(s, 3);
		*found_r = true;
	} else if (rc != SQLITE_DONE)
		goto fail;
	store_stmt_done(s);
	return 0;
fail:
	(void)store_db_error(st, "spam totals");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_spam_tokens(struct store *st, const char *scope, int64_t since,
    store_spam_token_cb *cb, void *ctx)
{
	sqlite3_stmt *s = sp(st, SP_TOKENS);
	const void *tok;
	int rc, len;

	if (s == NULL || store_bind_text(s, 1, scope) < 0 ||
	    store_bind_int(s, 2, since) < 0)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		tok = sqlite3_column_blob(s, 0);
		len = sqlite3_column_bytes(s, 0);
		if (tok == NULL || len <= 0)
			continue;
		cb(ctx, tok, (size_t)len, sqlite3_column_int64(s, 1),
		    sqlite3_column_int64(s, 2));
	}
	if (rc != SQLITE_DONE)
		goto fail;
	store_stmt_done(s);
	return 0;
fail:
	(void)store_db_error(st, "spam tokens");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_spam_learned(struct store *st, const char *scope,
    const uint8_t digest[STORE_SPAM_DIGEST_LEN], int *class_r)
{
	sqlite3_stmt *s = sp(st, SP_LEARNED);
	int rc;

	*class_r = -1;
	if (s == NULL || store_bind_text(s, 1, scope) < 0 ||
	    bind_blob(s, 2, digest, STORE_SPAM_DIGEST_LEN) < 0)
		goto fail;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*class_r = sqlite3_column_int(s, 0) != 0 ? 1 : 0;
	else if (rc != SQLITE_DONE)
		goto fail;
	store_stmt_done(s);
	return 0;
fail:
	(void)store_db_error(st, "spam learned");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_spam_learned_set(struct store *st, const char *scope,
    const uint8_t digest[STORE_SPAM_DIGEST_LEN], int cls, int64_t when)
{
	sqlite3_stmt *s;

	s = sp(st, cls < 0 ? SP_LEARNED_DEL : SP_LEARNED_SET);
	if (s == NULL || store_bind_text(s, 1, scope) < 0 ||
	    bind_blob(s, 2, digest, STORE_SPAM_DIGEST_LEN) < 0 ||
	    (cls >= 0 && (store_bind_int(s, 3, cls) < 0 ||
	    store_bind_int(s, 4, when) < 0))) {
		if (s != NULL)
			store_stmt_done(s);
		(void)store_db_error(st, "spam learned bind");
		return -1;
	}
	return exec(st, s, "spam learned set");
}

int
store_spam_bump(struct store *st, const char *scope, int64_t dspam,
    int64_t dham, int64_t *gen_r)
{
	sqlite3_stmt *s = sp(st, SP_SCOPE_NEW);
	int rc;

	if (s == NULL || store_bind_text(s, 1, scope) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		(void)store_db_error(st, "spam scope");
		return -1;
	}
	if (exec(st, s, "spam scope") < 0)
		return -1;
	s = sp(st, SP_BUMP);
	if (s == NULL || store_bind_text(s, 1, scope) < 0 ||
	    store_bind_int(s, 2, dspam) < 0 || store_bind_int(s, 3, dham) < 0)
		goto fail;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		goto fail;
	*gen_r = sqlite3_column_int64(s, 0);
	/* RETURNING: the update is done only when stepped to the end. */
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		goto fail;
	store_stmt_done(s);
	return 0;
fail:
	(void)store_db_error(st, "spam bump");
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_spam_token_add(struct store *st, const char *scope,
    const uint8_t *token, size_t len, int64_t dspam, int64_t dham,
    int64_t gen)
{
	sqlite3_stmt *s = sp(st, SP_TOKEN_ADD);

	if (s == NULL || store_bind_text(s, 1, scope) < 0 ||
	    bind_blob(s, 2, token, len) < 0 ||
	    store_bind_int(s, 3, dspam) < 0 ||
	    store_bind_int(s, 4, dham) < 0 || store_bind_int(s, 5, gen) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		(void)store_db_error(st, "spam token bind");
		return -1;
	}
	return exec(st, s, "spam token");
}

int
store_spam_forget(struct store *st, const char *scope)
{
	static const unsigned ids[] = { SP_FORGET_TOKENS, SP_FORGET_LEARNED,
		SP_FORGET_TOTALS };
	sqlite3_stmt *s;
	size_t i;

	if (store_tx(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		s = sp(st, ids[i]);
		if (s == NULL || store_bind_text(s, 1, scope) < 0) {
			if (s != NULL)
				store_stmt_done(s);
			(void)store_db_error(st, "spam forget");
			goto fail;
		}
		if (exec(st, s, "spam forget") < 0)
			goto fail;
	}
	return store_tx(st, "COMMIT");
fail:
	(void)store_tx(st, "ROLLBACK");
	return -1;
}

int
store_spam_stats(struct store *st, store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = sp(st, SP_STATS);

	if (s == NULL)
		return -1;
	return store_stmt_rows(st, s, cb, ctx);
}

int
store_spam_tx(struct store *st, const char *verb)
{
	return store_tx(st, verb);
}
