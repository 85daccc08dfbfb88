/* store_list_digest: the SQL of list digests: options, member modes and
 * the waiting posts. See store_list_digest.h; the schema is migration
 * 9 -> 10 in store_sql.c. */
#include "store_list_digest.h"
#include "store_int.h"
#include "store_list.h"

#include <string.h>

#include "util.h"

enum {
	DS_SET_DIGEST = 0,
	DS_SET_SIZE,
	DS_SET_INTERVAL,
	DS_MODE,
	DS_MEMBERS,
	DS_TOTAL,
	DS_ADD,
	DS_WAITING,
	DS_ISSUE,
	DS_CLAIM,
	DS_READ,
	DS_DONE,
	DS_RELEASE,
	DS_DUE,
	DS_PRUNE,
	DS_COUNT
};

_Static_assert(DS_COUNT <= 16, "store_list_digest.c has slots 160..175");

static const char *const ds_sql[DS_COUNT] = {
	[DS_SET_DIGEST] = "UPDATE lists SET digest = ?2 WHERE address = ?1",
	[DS_SET_SIZE] = "UPDATE lists SET digest_size = ?2 WHERE address = ?1",
	[DS_SET_INTERVAL] =
	    "UPDATE lists SET digest_interval = ?2 WHERE address = ?1",
	[DS_MODE] =
	    "UPDATE list_members SET mode = ?3 WHERE list = ?1 AND"
	    " address = ?2",
	[DS_MEMBERS] =
	    "SELECT count(*) FROM list_members WHERE list = ?1 AND"
	    " state = 'active' AND mode = 'digest'",
	/* Claimed rows too: the cap bounds what the table holds. Rows of
	 * batch -1 are posts already sent in a digest, kept without their
	 * data (see DS_DONE). */
	[DS_TOTAL] =
	    "SELECT count(*), coalesce(sum(length(data)), 0) FROM list_digest"
	    " WHERE list = ?1 AND batch >= 0",
	[DS_ADD] =
	    "INSERT OR IGNORE INTO list_digest (list, post, time, data)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[DS_WAITING] =
	    "SELECT coalesce(sum(length(data)), 0) FROM list_digest"
	    " WHERE list = ?1 AND batch >= 0 AND claimed <= ?2",
	[DS_ISSUE] =
	    "UPDATE lists SET digest_issue = digest_issue + 1"
	    " WHERE address = ?1 RETURNING digest_issue",
	/* The oldest posts while their running size stays within ?6 (the
	 * first one always): a digest must fit the queue's message size. */
	[DS_CLAIM] =
	    "UPDATE list_digest SET batch = ?2, claimed = ?3 WHERE id IN"
	    " (SELECT id FROM (SELECT id, row_number() OVER w AS n,"
	    "   sum(length(data)) OVER w AS run FROM list_digest"
	    "   WHERE list = ?1 AND batch >= 0 AND claimed <= ?4"
	    "   WINDOW w AS (ORDER BY id))"
	    "  WHERE n <= ?5 AND (n = 1 OR run <= ?6))",
	[DS_READ] =
	    "SELECT id, time, data FROM list_digest WHERE list = ?1 AND"
	    " batch = ?2 AND claimed = ?3 ORDER BY id",
	/* Sent: the data goes, the row stays as batch -1 so that a retried
	 * expansion of the post (DS_ADD, one row per list and post) does
	 * not put it in a second digest; DS_PRUNE deletes it later. */
	[DS_DONE] =
	    "UPDATE list_digest SET batch = -1, claimed = 0, data = x''"
	    " WHERE list = ?1 AND batch = ?2",
	[DS_RELEASE] =
	    "UPDATE list_digest SET claimed = 0 WHERE list = ?1 AND"
	    " batch = ?2",
	/* Due: waited long enough, big enough, or no digest offered any
	 * more (what waits goes out once). */
	[DS_DUE] =
	    "SELECT l.address FROM lists l JOIN list_digest d"
	    " ON d.list = l.address WHERE d.batch >= 0 AND d.claimed <= ?2"
	    " GROUP BY l.address HAVING l.digest = 0 OR"
	    " min(d.time) <= ?1 - l.digest_interval OR"
	    " sum(length(d.data)) >= l.digest_size LIMIT ?3",
	[DS_PRUNE] =
	    "DELETE FROM list_digest WHERE batch = -1 AND time < ?1",
};

static sqlite3_stmt *
stmt(struct store *st, unsigned id)
{
	return store_ext_stmt(st, STORE_EXT_DIGEST + id, ds_sql[id]);
}

/* Step a statement that returns no rows and reset it: 0 or -1. */
static int
exec_one(struct store *st, sqlite3_stmt *s, const char *what,
    const char **error_r)
{
	int rc = store_stmt_exec(s);

	if (rc != 0) {
		const char *e = store_db_error(st, what);

		if (error_r != NULL)
			*error_r = e;
		store_stmt_done(s);
		return -1;
	}
	store_stmt_done(s);
	return 0;
}

int
store_list_digest_set(struct store *st, const char *address,
    const char *key, const char *value, const char **error_r)
{
	const char *perr = NULL;
	uint64_t v;
	sqlite3_stmt *s;
	unsigned id;

	if (strcmp(key, "digest") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			*error_r = store_error_text(st, "digest: on or off");
			return -1;
		}
		v = strcmp(value, "on") == 0;
		id = DS_SET_DIGEST;
	} else if (strcmp(key, "digest_size") == 0) {
		if (parse_size(value, 1, LIST_DIGEST_TOTAL_MAX, &v,
		    &perr) < 0) {
			*error_r = store_error_text(st, "digest_size: octets, "
			    "with K, M or G, at most 64M");
			return -1;
		}
		id = DS_SET_SIZE;
	} else if (strcmp(key, "digest_interval") == 0) {
		if (parse_duration(value, LIST_DIGEST_INTERVAL_MIN,
		    LIST_DIGEST_INTERVAL_MAX, &v, &perr) < 0) {
			*error_r = store_error_text(st, "digest_interval: a "
			    "duration (s, m, h, d) from 1m to 366d");
			return -1;
		}
		id = DS_SET_INTERVAL;
	} else {
		return 1;
	}
	if ((s = stmt(st, id)) == NULL || store_bind_text(s, 1, address) < 0 ||
	    store_bind_int(s, 2, (int64_t)v) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		*error_r = store_db_error(st, "list set");
		return -1;
	}
	return exec_one(st, s, "list set", error_r);
}

int
store_list_member_mode(struct store *st, const char *list,
    const char *address, const char *mode, const char **error_r)
{
	struct list_info li;
	sqlite3_stmt *s;

	if (strcmp(mode, "each") != 0 && strcmp(mode, "digest") != 0) {
		*error_r = store_error_text(st, "mode: each or digest");
		return -1;
	}
	if (store_list_get(st, list, &li, error_r) < 0)
		return -1;
	if (strcmp(mode, "digest") == 0 && !li.digest) {
		*error_r = store_error_text(st, "this list offers no digest "
		    "(list set LIST digest=on)");
		return -1;
	}
	if ((s = stmt(st, DS_MODE)) == NULL ||
	    store_bind_text(s, 1, li.address) < 0 ||
	    store_bind_text(s, 2, address) < 0 ||
	    store_bind_text(s, 3, mode) < 0) {
		if (s != NULL)
			store_stmt_done(s);
		*error_r = store_db_error(st, "member mode");
		return -1;
	}
	if (exec_one(st, s, "member mode", error_r) < 0)
		return -1;
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		*error_r = store_error_text(st, "no such member");
		return -1;
	}
	return 0;
}

/* The first row's integer columns of a bound statement (a count, a
 * sum) into v[0..n-1]; resets it. 0 or -1. */
static int
row_ints(struct store *st, sqlite3_stmt *s, int64_t *v, int n,
    const char *what)
{
	int rc = sqlite3_step(s), i;

	for (i = 0; i < n; i++)
		v[i] = rc == SQLITE_ROW ? sqlite3_column_int64(s, i) : 0;
	store_stmt_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)store_db_error(st, what);
		return -1;
	}
	return 0;
}

int
store_list_digest_members(struct store *st, const char *list, size_t *n_r)
{
	sqlite3_stmt *s = stmt(st, DS_MEMBERS);
	int64_t n = 0;

	*n_r = 0;
	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0) {
		store_stmt_done(s);
		return -1;
	}
	if (row_ints(st, s, &n, 1, "digest members") < 0)
		return -1;
	*n_r = (size_t)n;
	return 0;
}

int
store_list_digest_pending(struct store *st, const char *list,
    uint64_t *posts_r, uint64_t *octets_r)
{
	sqlite3_stmt *s = stmt(st, DS_TOTAL);
	int64_t v[2] = { 0, 0 };

	*posts_r = *octets_r = 0;
	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0) {
		store_stmt_done(s);
		return -1;
	}
	if (row_ints(st, s, v, 2, "digest pending") < 0)
		return -1;
	*posts_r = (uint64_t)v[0];
	*octets_r = (uint64_t)v[1];
	return 0;
}

int
store_list_digest_add(struct store *st, const char *list, const char *post,
    time_t now, const uint8_t *data, size_t len, uint64_t *waiting_r,
    const char **error_r)
{
	uint64_t posts, octets;
	sqlite3_stmt *s;
	int64_t w = 0;

	*waiting_r = 0;
	if (store_tx(st, "BEGIN IMMEDIATE") < 0) {
		*error_r = store_db_error(st, "digest add");
		return -1;
	}
	if (store_list_digest_pending(st, list, &posts, &octets) < 0)
		goto fail;
	if (octets >= LIST_DIGEST_TOTAL_MAX) {
		(void)store_tx(st, "ROLLBACK");
		*error_r = store_error_text(st, "too many octets waiting for "
		    "the list's digest");
		return -1;
	}
	if ((s = stmt(st, DS_ADD)) == NULL)
		goto fail;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_text(s, 2, post) < 0 ||
	    store_bind_int(s, 3, (int64_t)now) < 0 ||
	    sqlite3_bind_blob64(s, 4, data, len, SQLITE_STATIC) != SQLITE_OK) {
		store_stmt_done(s);
		goto fail;
	}
	if (exec_one(st, s, "digest add", NULL) < 0)
		goto fail;
	if ((s = stmt(st, DS_WAITING)) == NULL)
		goto fail;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_int(s, 2, (int64_t)now - LIST_DIGEST_CLAIM_TTL) < 0) {
		store_stmt_done(s);
		goto fail;
	}
	if (row_ints(st, s, &w, 1, "digest add") < 0)
		goto fail;
	if (store_tx(st, "COMMIT") < 0)
		goto fail;
	*waiting_r = (uint64_t)w;
	return 0;
fail:
	*error_r = store_db_error(st, "digest add");
	(void)store_tx(st, "ROLLBACK");
	return -1;
}

int
store_list_digest_claim(struct store *st, const char *list, time_t now,
    uint64_t max_octets, uint64_t *issue_r, store_digest_post_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s;
	int64_t issue = 0;
	int rc, n = 0;

	*issue_r = 0;
	if (store_tx(st, "BEGIN IMMEDIATE") < 0) {
		(void)store_db_error(st, "digest claim");
		return -1;
	}
	if ((s = stmt(st, DS_ISSUE)) == NULL)
		goto fail;
	if (store_bind_text(s, 1, list) < 0) {
		store_stmt_done(s);
		goto fail;
	}
	/* RETURNING: stepped to the end for the update to be done. */
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		issue = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	}
	store_stmt_done(s);
	if (rc != SQLITE_DONE || issue <= 0)
		goto fail;
	if ((s = stmt(st, DS_CLAIM)) == NULL)
		goto fail;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_int(s, 2, issue) < 0 ||
	    store_bind_int(s, 3, (int64_t)now) < 0 ||
	    store_bind_int(s, 4, (int64_t)now - LIST_DIGEST_CLAIM_TTL) < 0 ||
	    store_bind_int(s, 5, LIST_DIGEST_POSTS_MAX) < 0 ||
	    store_bind_int(s, 6, max_octets > INT64_MAX ? INT64_MAX :
	    (int64_t)max_octets) < 0) {
		store_stmt_done(s);
		goto fail;
	}
	if (exec_one(st, s, "digest claim", NULL) < 0)
		goto fail;
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		/* Nothing waits: the issue number is not spent. */
		(void)store_tx(st, "ROLLBACK");
		return 0;
	}
	if (store_tx(st, "COMMIT") < 0)
		goto fail;
	*issue_r = (uint64_t)issue;
	if ((s = stmt(st, DS_READ)) == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_int(s, 2, issue) < 0 ||
	    store_bind_int(s, 3, (int64_t)now) < 0) {
		store_stmt_done(s);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(s, 2);
		int len = sqlite3_column_bytes(s, 2);

		cb(ctx, sqlite3_column_int64(s, 0),
		    (time_t)sqlite3_column_int64(s, 1), d != NULL ? d :
		    (const void *)"", len > 0 ? (size_t)len : 0);
		n++;
	}
	store_stmt_done(s);
	if (rc != SQLITE_DONE) {
		(void)store_db_error(st, "digest read");
		(void)store_list_digest_release(st, list, (uint64_t)issue);
		return -1;
	}
	return n;
fail:
	(void)store_db_error(st, "digest claim");
	(void)store_tx(st, "ROLLBACK");
	return -1;
}

static int
batch_exec(struct store *st, unsigned id, const char *list, uint64_t batch,
    const char *what)
{
	sqlite3_stmt *s = stmt(st, id);

	if (s == NULL)
		return -1;
	if (store_bind_text(s, 1, list) < 0 ||
	    store_bind_int(s, 2, (int64_t)batch) < 0) {
		store_stmt_done(s);
		return -1;
	}
	return exec_one(st, s, what, NULL);
}

int
store_list_digest_done(struct store *st, const char *list, uint64_t batch)
{
	return batch_exec(st, DS_DONE, list, batch, "digest done");
}

int
store_list_digest_release(struct store *st, const char *list,
    uint64_t batch)
{
	return batch_exec(st, DS_RELEASE, list, batch, "digest release");
}

int
store_list_digest_due(struct store *st, time_t now, store_row_cb *cb,
    void *ctx)
{
	sqlite3_stmt *s = stmt(st, DS_DUE);

	if (s == NULL)
		return -1;
	if (store_bind_int(s, 1, (int64_t)now) < 0 ||
	    store_bind_int(s, 2, (int64_t)now - LIST_DIGEST_CLAIM_TTL) < 0 ||
	    store_bind_int(s, 3, LIST_DIGEST_DUE_MAX) < 0) {
		store_stmt_done(s);
		return -1;
	}
	return store_stmt_rows(st, s, cb, ctx);
}

int
store_list_digest_prune(struct store *st, time_t before, unsigned *n_r)
{
	sqlite3_stmt *s = stmt(st, DS_PRUNE);

	*n_r = 0;
	if (s == NULL || store_bind_int(s, 1, (int64_t)before) < 0 ||
	    exec_one(st, s, "digest prune", NULL) < 0)
		return -1;
	*n_r = (unsigned)sqlite3_changes(store_sqlite(st));
	return 0;
}
