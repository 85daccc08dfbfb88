/* store_int.h: for the store_*.c files that hold the SQL of one subject
 * (screening rules, account security, ...) next to store_sql.c, which
 * owns the connection, the schema and its migrations. They get the
 * handle, a cache of prepared statements by slot, and the helpers
 * store_sql.c uses itself. Only files under src/store include this. */
#ifndef MOAT_STORE_INT_H
#define MOAT_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* Statement slots, a range per file. */
#define STORE_EXT_SCREEN	0	/* store_screen.c: 0..31 */
#define STORE_EXT_SECURITY	32	/* store_security.c: 32..63 */
#define STORE_EXT_REJECT	64	/* store_reject.c: 64..79 */
#define STORE_EXT_SPAM		96	/* store_spam.c: 96..127 */
#define STORE_EXT_LIST		128	/* store_list.c: 128..159 */
#define STORE_EXT_DIGEST	160	/* store_list_digest.c: 160..175 */
#define STORE_EXT_DMARC		176	/* store_dmarc.c: 176..191 */
#define STORE_EXT_SLOTS		192

/* The statement of slot, prepared from sql on first use and kept until
 * store_close(); NULL (logged) if it does not prepare. The same slot
 * must always be asked with the same sql. */
sqlite3_stmt *store_ext_stmt(struct store *st, unsigned slot,
    const char *sql);
sqlite3 *store_sqlite(struct store *st);

/* Log a database failure once and return it as error text (kept in st
 * until the next error). */
const char *store_db_error(struct store *st, const char *what);
/* Keep text as the error text of st and return it. */
const char *store_error_text(struct store *st, const char *text);

/* Reset and clear a statement after use. */
void store_stmt_done(sqlite3_stmt *s);
/* Bind a string (NULL binds SQL NULL) or an integer: 0 or -1. */
int store_bind_text(sqlite3_stmt *s, int idx, const char *v);
int store_bind_int(sqlite3_stmt *s, int idx, int64_t v);
/* Bind at most max bytes of v. */
int store_bind_textn(sqlite3_stmt *s, int idx, const char *v, size_t max);
/* Step a statement returning no rows: 0, or the SQLite error code with
 * the statement not yet reset. */
int store_stmt_exec(sqlite3_stmt *s);
/* Every row of a bound statement to cb as strings; resets it. 0 or -1. */
int store_stmt_rows(struct store *st, sqlite3_stmt *s, store_row_cb *cb,
    void *ctx);
/* "BEGIN IMMEDIATE", "COMMIT" or "ROLLBACK": 0 or -1. */
int store_tx(struct store *st, const char *verb);

#endif
