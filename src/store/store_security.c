/* store_security: known login addresses, written-to addresses and
 * account freezes (store_security.h). */
#include "store_security.h"
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#define ISO_TIME(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

enum {
	SQL_IP_RECORD = STORE_EXT_SECURITY,
	SQL_IP_KNOWN,
	SQL_SENT_ADD,
	SQL_FREEZE_GET,
	SQL_FREEZE_SET,
	SQL_UNFREEZE,
	SQL_BY_TOKEN,
	SQL_FROZEN_LIST,
	SQL_ACCOUNT_ID,
};

static const char sql_ip_record[] =
    "INSERT INTO account_ips (account, ip, last) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (account, ip) DO UPDATE SET last = excluded.last";
static const char sql_ip_known[] =
    "SELECT 1 FROM account_ips WHERE account = ?1 AND ip = ?2";
static const char sql_sent_add[] =
    "INSERT OR IGNORE INTO sent_rcpts (account, rcpt, first)"
    " VALUES (?1, ?2, ?3)";
static const char sql_freeze_get[] =
    "SELECT frozen_at IS NOT NULL, coalesce(frozen_reason, ''),"
    " coalesce(unfreeze_token, '') FROM accounts WHERE address = ?1";
static const char sql_freeze_set[] =
    "UPDATE accounts SET frozen_at = ?2, frozen_reason = ?3,"
    " unfreeze_token = ?4 WHERE address = ?1";
static const char sql_unfreeze[] =
    "UPDATE accounts SET frozen_at = NULL, frozen_reason = NULL,"
    " unfreeze_token = NULL WHERE address = ?1 AND frozen_at IS NOT NULL";
static const char sql_by_token[] =
    "SELECT address FROM accounts WHERE unfreeze_token = ?1"
    " AND frozen_at IS NOT NULL";
static const char sql_frozen_list[] =
    "SELECT address, " ISO_TIME("frozen_at") ", frozen_reason"
    " FROM accounts WHERE frozen_at IS NOT NULL ORDER BY address";

static int
fail(struct store *st, sqlite3_stmt *s, const char *what)
{
	(void)store_db_error(st, what);
	if (s != NULL)
		store_stmt_done(s);
	return -1;
}

int
store_account_ip_record(struct store *st, const char *account,
    const char *ip, time_t now)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_IP_RECORD, sql_ip_record);

	if (s == NULL || store_bind_text(s, 1, account) < 0 ||
	    store_bind_text(s, 2, ip) < 0 ||
	    store_bind_int(s, 3, (int64_t)now) < 0 ||
	    store_stmt_exec(s) != 0)
		return fail(st, s, "account ips");
	return 0;
}

int
store_account_ip_known(struct store *st, const char *account,
    const char *ip, bool *known)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_IP_KNOWN, sql_ip_known);
	int rc;

	*known = false;
	if (s == NULL || store_bind_text(s, 1, account) < 0 ||
	    store_bind_text(s, 2, ip) < 0)
		return fail(st, s, "account ips");
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st, s, "account ips");
	*known = rc == SQLITE_ROW;
	store_stmt_done(s);
	return 0;
}

int
store_sent_rcpts(struct store *st, const char *account, char *const *rcpts,
    size_t n, time_t now, unsigned *fresh_r)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_SENT_ADD, sql_sent_add);
	size_t i;

	*fresh_r = 0;
	if (s == NULL || store_tx(st, "BEGIN IMMEDIATE") < 0)
		return fail(st, s, "sent recipients");
	for (i = 0; i < n; i++) {
		if (store_bind_text(s, 1, account) < 0 ||
		    store_bind_text(s, 2, rcpts[i]) < 0 ||
		    store_bind_int(s, 3, (int64_t)now) < 0 ||
		    store_stmt_exec(s) != 0) {
			(void)fail(st, s, "sent recipients");
			(void)store_tx(st, "ROLLBACK");
			return -1;
		}
		if (sqlite3_changes(store_sqlite(st)) > 0)
			(*fresh_r)++;
	}
	if (store_tx(st, "COMMIT") < 0) {
		(void)store_tx(st, "ROLLBACK");
		return -1;
	}
	return 0;
}

/* 0 with the state, 1 when there is no such account, -1. */
static int
freeze_get(struct store *st, const char *account, bool *frozen,
    char *reason, size_t reasonlen, char *token)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_FREEZE_GET, sql_freeze_get);
	int rc;

	if (s == NULL || store_bind_text(s, 1, account) < 0)
		return fail(st, s, "freeze");
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		store_stmt_done(s);
		return 1;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s, "freeze");
	*frozen = sqlite3_column_int(s, 0) != 0;
	if (reason != NULL)
		snprintf(reason, reasonlen, "%s",
		    (const char *)sqlite3_column_text(s, 1));
	if (token != NULL)
		snprintf(token, STORE_TOKEN_LEN + 1, "%s",
		    (const char *)sqlite3_column_text(s, 2));
	store_stmt_done(s);
	return 0;
}

int
store_account_freeze(struct store *st, const char *account,
    const char *reason, time_t now, char *token, bool *was_frozen_r,
    const char **error_r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[STORE_TOKEN_LEN / 2];
	sqlite3_stmt *s;
	bool frozen = false;
	size_t i;
	int r;

	*was_frozen_r = false;
	r = freeze_get(st, account, &frozen, NULL, 0, token);
	if (r < 0) {
		*error_r = store_db_error(st, "freeze");
		return -1;
	}
	if (r == 1) {
		*error_r = store_error_text(st, "no such account");
		return -1;
	}
	if (frozen) {
		*was_frozen_r = true;
		return 0;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		*error_r = store_error_text(st, "no random bytes");
		return -1;
	}
	for (i = 0; i < sizeof(rnd); i++) {
		token[2 * i] = hex[rnd[i] >> 4];
		token[2 * i + 1] = hex[rnd[i] & 15];
	}
	token[STORE_TOKEN_LEN] = '\0';
	s = store_ext_stmt(st, SQL_FREEZE_SET, sql_freeze_set);
	if (s == NULL || store_bind_text(s, 1, account) < 0 ||
	    store_bind_int(s, 2, (int64_t)now) < 0 ||
	    store_bind_textn(s, 3, reason, STORE_FREEZE_REASON_MAX) < 0 ||
	    store_bind_text(s, 4, token) < 0 || store_stmt_exec(s) != 0) {
		(void)fail(st, s, "freeze");
		*error_r = store_error_text(st, "database error (freeze)");
		return -1;
	}
	return 0;
}

int
store_account_unfreeze(struct store *st, const char *account,
    const char **error_r)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_UNFREEZE, sql_unfreeze);

	if (s == NULL || store_bind_text(s, 1, account) < 0 ||
	    store_stmt_exec(s) != 0) {
		(void)fail(st, s, "unfreeze");
		*error_r = store_error_text(st, "database error (unfreeze)");
		return -1;
	}
	if (sqlite3_changes(store_sqlite(st)) == 0) {
		*error_r = store_error_text(st, "not frozen (or no such "
		    "account)");
		return -1;
	}
	return 0;
}

int
store_unfreeze_by_token(struct store *st, const char *token, char *account,
    size_t len)
{
	sqlite3_stmt *s;
	const char *error;
	int rc;

	if (strlen(token) != STORE_TOKEN_LEN)
		return 1;
	s = store_ext_stmt(st, SQL_BY_TOKEN, sql_by_token);
	if (s == NULL || store_bind_text(s, 1, token) < 0)
		return fail(st, s, "unfreeze");
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		store_stmt_done(s);
		return 1;
	}
	if (rc != SQLITE_ROW)
		return fail(st, s, "unfreeze");
	snprintf(account, len, "%s", (const char *)sqlite3_column_text(s, 0));
	store_stmt_done(s);
	return store_account_unfreeze(st, account, &error) < 0 ? -1 : 0;
}

int
store_account_frozen(struct store *st, const char *account, bool *frozen,
    char *reason, size_t reasonlen)
{
	*frozen = false;
	return freeze_get(st, account, frozen, reason, reasonlen, NULL) < 0 ?
	    -1 : 0;
}

int
store_frozen_list(struct store *st, store_row_cb *cb, void *ctx)
{
	sqlite3_stmt *s = store_ext_stmt(st, SQL_FROZEN_LIST,
	    sql_frozen_list);

	if (s == NULL)
		return fail(st, s, "frozen list");
	return store_stmt_rows(st, s, cb, ctx);
}
